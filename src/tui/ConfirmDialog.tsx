/**
 * A yes/no question.
 *
 * @module
 */
import { Box, Text } from "ink";

/** Props of {@link ConfirmDialog}. */
export interface ConfirmDialogProps {
  question: string;
}

/** The question and its keys; the App reads y, n and esc. */
export function ConfirmDialog({ question }: ConfirmDialogProps) {
  return (
    <Box borderStyle="double" borderColor="yellow" paddingX={2} flexDirection="column">
      <Text bold>{question}</Text>
      <Text dimColor>y yes · n or esc no</Text>
    </Box>
  );
}
