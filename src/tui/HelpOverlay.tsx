/**
 * The key bindings.
 *
 * @module
 */
import { Box, Text } from "ink";

/** Props of {@link HelpOverlay}. */
export interface HelpOverlayProps {
  mode: "local" | "remote";
}

const KEYS: [string, string][] = [
  ["?", "this help (any key closes it)"],
  ["tab", "move between the workers and the recent jobs"],
  ["↑ ↓", "select a row"],
  ["enter", "details of the selected job"],
  ["c", "cancel the selected job (asks first)"],
  ["r", "retry the selected dead or cancelled job (asks first)"],
  ["e", "enqueue a job: kind, payload, priority"],
  ["p", "pause or resume intake (no queued job starts while paused)"],
];

/** A box listing every key. */
export function HelpOverlay({ mode }: HelpOverlayProps) {
  const quit: [string, string][] = mode === "local"
    ? [["q", "shut the runtime down in order (asks first)"], [
      "Ctrl-C",
      "shut down in order; again to force",
    ]]
    : [["q / Ctrl-C", "detach; the runtime keeps running"]];
  return (
    <Box flexDirection="column" borderStyle="double" borderColor="cyan" paddingX={2}>
      <Text bold color="cyan">Keys</Text>
      {[...KEYS, ...quit].map(([key, what]) => (
        <Text key={key}>
          <Text bold>{key.padEnd(12)}</Text>
          <Text>{what}</Text>
        </Text>
      ))}
    </Box>
  );
}
