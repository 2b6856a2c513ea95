/**
 * Text measured and cut in terminal columns, not UTF-16 code units: a CJK character or an
 * emoji takes two columns, a combining mark none, ANSI colour escapes none. Tables
 * (`src/commands`) and the dashboard (`src/tui`) line up only if they measure this way.
 * Width comes from `string-width` and cuts from `cli-truncate` (the ones Ink itself uses).
 *
 * @module
 */
import stringWidth from "string-width";
import cliTruncate from "cli-truncate";

/** The columns `text` takes in a terminal (ANSI escapes take none). */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

/**
 * Cuts `text` to at most `width` columns, ending with `…` when it was cut (`ellipsis`), or
 * plainly. A wide character that would straddle the edge is left out, so the result can be
 * one column short: {@link padToWidth} fills it.
 */
export function cutToWidth(text: string, width: number, ellipsis = true): string {
  if (width <= 0) return "";
  if (stringWidth(text) <= width) return text;
  const truncationCharacter = ellipsis && width > 1 ? "…" : "";
  // cli-truncate keeps a wide character that starts inside the limit and ends past it: ask
  // for one column less until the cut fits. (At one column it gives only the ellipsis.)
  for (let columns = width; columns > 1; columns--) {
    const cut = cliTruncate(text, columns, { truncationCharacter });
    if (stringWidth(cut) <= width) return cut;
  }
  if (truncationCharacter !== "") return truncationCharacter;
  const first = new Intl.Segmenter().segment(text)[Symbol.iterator]().next().value?.segment ?? "";
  return stringWidth(first) <= width ? first : "";
}

/** Pads `text` with spaces to `width` columns (it is never cut). */
export function padToWidth(
  text: string,
  width: number,
  align: "left" | "right" = "left",
): string {
  const pad = " ".repeat(Math.max(0, width - stringWidth(text)));
  return align === "right" ? pad + text : text + pad;
}
