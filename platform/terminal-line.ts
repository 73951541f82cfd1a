/**
 * `text` cut to one row of a terminal `columns` wide (the last column left
 * free), or whole when the width is unknown. A progress line redrawn with
 * `\r` must fit one row: `\r` returns to the start of the last row only, so a
 * wrapped line leaves a stale row behind at every redraw.
 */
export function fitTerminalWidth(text: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text;
}
