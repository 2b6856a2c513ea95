/**
 * A bordered panel with a title; highlighted when it has the keyboard focus.
 *
 * @module
 */
import { Box, Text } from "ink";
import { fg } from "./format.ts";
import type { ReactNode } from "react";

/** Props of {@link Panel}. */
export interface PanelProps {
  title: string;
  /** A note right of the title. */
  note?: string;
  focused?: boolean;
  width?: number | string;
  height?: number;
  children?: ReactNode;
}

/** A bordered box whose first line is its title. */
export function Panel({ title, note, focused = false, width, height, children }: PanelProps) {
  return (
    <Box
      flexDirection="column"
      borderStyle="round"
      borderColor={focused ? "cyan" : "gray"}
      paddingX={1}
      {...(width === undefined ? {} : { width })}
      {...(height === undefined ? {} : { height })}
      flexGrow={width === undefined ? 1 : 0}
      overflow="hidden"
    >
      <Text>
        <Text bold {...fg(focused ? "cyan" : undefined)}>{title}</Text>
        {note ? <Text dimColor>{"  "}{note}</Text> : null}
      </Text>
      {children}
    </Box>
  );
}
