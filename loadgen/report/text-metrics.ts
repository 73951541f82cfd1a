/**
 * How wide a line of chart text is, without a browser: the advance widths of DejaVu Sans (what
 * "Helvetica, Arial, sans-serif" resolves to where neither is installed; both are narrower), in
 * hundredths of the font size, measured with Chromium's canvas. Layout that keeps labels apart by
 * these widths keeps them apart in any of those fonts.
 */

/** Widths of the characters ' ' (32) to '~' (126), regular. */
const REGULAR = [
  32, 40, 46, 84, 64, 95, 78, 27, 39, 39, 50, 84, 32, 36, 32, 34, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 34, 34, 84, 84, 84, 53, 100, 68,
  69, 70, 77, 63, 58, 77, 75, 29, 29, 66, 56, 86, 75, 79, 60, 79, 69, 63, 61, 73, 68, 99, 69, 61, 69, 39, 34, 39, 84, 50, 50, 61, 63, 55,
  63, 62, 35, 63, 63, 28, 28, 58, 28, 97, 63, 61, 63, 63, 41, 52, 39, 63, 59, 82, 59, 59, 52, 64, 34, 64, 84,
] as const;

/** The same, bold. */
const BOLD = [
  35, 46, 52, 84, 70, 100, 87, 31, 46, 46, 52, 84, 38, 42, 38, 37, 70, 70, 70, 70, 70, 70, 70, 70, 70, 70, 40, 40, 84, 84, 84, 58, 100, 77,
  76, 73, 83, 68, 68, 82, 84, 37, 37, 77, 64, 100, 84, 85, 73, 85, 77, 72, 68, 81, 77, 110, 77, 72, 73, 46, 37, 46, 84, 50, 50, 67, 72, 59,
  72, 68, 44, 72, 71, 34, 34, 67, 34, 104, 71, 69, 72, 72, 49, 60, 48, 71, 65, 92, 65, 65, 58, 71, 37, 71, 84,
] as const;

/** Characters outside ASCII that the reports write. */
const OTHERS: Readonly<Record<string, readonly [regular: number, bold: number]>> = {
  '·': [32, 38],
  '→': [84, 84],
  '±': [84, 84],
  µ: [64, 74],
};

/** Anything else counts as a full em: too wide rather than too narrow. */
const UNKNOWN = 100;

/** The width in px of `text` at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let hundredths = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const known = code >= 32 && code <= 126 ? table[code - 32] : OTHERS[ch]?.[bold ? 1 : 0];
    hundredths += known ?? UNKNOWN;
  }
  return (hundredths / 100) * fontSize;
}

/** A line of text's box above and below its baseline: a little more than the font's ascent and descent. */
export const ASCENT = 0.93;
export const DESCENT = 0.24;
