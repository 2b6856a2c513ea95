/**
 * The key line at the bottom.
 *
 * @module
 */
import { Text } from "ink";

/** Props of {@link Footer}. */
export interface FooterProps {
  mode: "local" | "remote";
  paused: boolean;
  message: string | null;
}

/** The keys, or a short message after an action. */
export function Footer({ mode, paused, message }: FooterProps) {
  if (message !== null) return <Text wrap="truncate" color="yellow">{message}</Text>;
  return (
    <Text wrap="truncate" dimColor>
      ? help · tab panel · ↑↓ select · enter details · c cancel · r retry · e enqueue · p{" "}
      {paused ? "resume" : "pause"} · q {mode === "local" ? "shut down" : "detach"}
    </Text>
  );
}
