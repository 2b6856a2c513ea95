/**
 * A small form to enqueue a job: kind, then payload (JSON), then priority.
 *
 * @module
 */
import { Box, Text } from "ink";
import { Select, TextInput } from "@inkjs/ui";
import { useCallback, useMemo, useRef, useState } from "react";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { JsonValue } from "../shared/json.ts";
import type { ViewKind } from "../shared/view.ts";
import { cutToWidth } from "../shared/text_width.ts";

const PRIORITY_CHOICES: readonly Priority[] = [
  "coordinate",
  ...PRIORITIES.filter((p) => p !== "coordinate"),
];
const PRIORITY_OPTIONS = PRIORITY_CHOICES.map((p) => ({
  label: p === "coordinate" ? "coordinate (default)" : p,
  value: p,
}));

/** Props of {@link EnqueueForm}. */
export interface EnqueueFormProps {
  kinds: readonly ViewKind[];
  /** Called with a complete spec; resolves with an error message to show, or null. */
  onSubmit: (spec: { kind: string; payload: JsonValue; priority: Priority }) => void;
  error: string | null;
}

/**
 * Three steps; esc (handled by the App) leaves the form.
 *
 * `Select` (@inkjs/ui) reports its chosen value again whenever its `onChange` or `options`
 * change identity, and the dashboard re-renders the form on every poll: both are kept
 * stable, or one Enter would enqueue the job once per re-render.
 */
export function EnqueueForm({ kinds, onSubmit, error }: EnqueueFormProps) {
  const [kind, setKind] = useState<string | null>(null);
  const [payload, setPayload] = useState<{ value: JsonValue } | null>(null);
  const [payloadError, setPayloadError] = useState<string | null>(null);
  const submit = useRef(onSubmit);
  submit.current = onSubmit;
  const kindOptions = useMemo(
    () =>
      kinds.map((k) => ({
        label: cutToWidth(`${k.kind}  ${k.description}`, 70, false),
        value: k.kind,
      })),
    [kinds],
  );
  const chooseKind = useCallback((value: string) => setKind(value), []);
  const choosePriority = useCallback((value: string) => {
    if (kind !== null && payload !== null) {
      submit.current({ kind, payload: payload.value, priority: value as Priority });
    }
  }, [kind, payload]);
  return (
    <Box flexDirection="column" borderStyle="double" borderColor="cyan" paddingX={1}>
      <Text bold color="cyan">
        enqueue a job <Text dimColor>(esc cancels)</Text>
      </Text>
      {kind === null
        ? (
          <Box flexDirection="column">
            <Text>kind:</Text>
            <Select
              visibleOptionCount={Math.min(8, kinds.length)}
              options={kindOptions}
              onChange={chooseKind}
            />
          </Box>
        )
        : (
          <Text>
            kind: <Text bold>{kind}</Text>
          </Text>
        )}
      {kind !== null && payload === null
        ? (
          <Box flexDirection="column">
            <Text>payload (JSON, enter for none):</Text>
            <TextInput
              placeholder={examplePayload(kinds.find((k) => k.kind === kind)?.description ?? "")}
              onSubmit={(text) => {
                if (text.trim() === "") {
                  setPayload({ value: null });
                  return;
                }
                try {
                  setPayload({ value: JSON.parse(text) as JsonValue });
                  setPayloadError(null);
                } catch (e) {
                  setPayloadError(e instanceof Error ? e.message : String(e));
                }
              }}
            />
            {payloadError ? <Text color="red">{payloadError}</Text> : null}
          </Box>
        )
        : null}
      {kind !== null && payload !== null
        ? (
          <Box flexDirection="column">
            <Text>payload: {JSON.stringify(payload.value)}</Text>
            <Text>priority:</Text>
            <Select
              // No defaultValue: Select only reports a change, so the default could not be
              // picked. The default comes first instead.
              options={PRIORITY_OPTIONS}
              onChange={choosePriority}
            />
          </Box>
        )
        : null}
      {error ? <Text color="red">{error}</Text> : null}
    </Box>
  );
}

/** The example payload a kind's description gives (`…: { "path": "data/app.db" }`), or `{}`. */
export function examplePayload(description: string): string {
  const at = description.indexOf("{");
  return at === -1 ? "{}" : description.slice(at);
}
