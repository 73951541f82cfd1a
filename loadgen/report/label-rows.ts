/**
 * A label to place on a row above the chart: where its text starts and how wide it is, and the x of
 * its marker line, which runs from the label's row down through every row below it to the plot.
 */
export interface RowLabel {
  readonly x: number;
  readonly width: number;
  readonly lineX: number;
}

/**
 * Staggers labels into rows (row 0 nearest the plot) so that no two labels on a row come within
 * `gap` px of each other and no marker line comes within `lineGap` px of another label: a line runs through the rows
 * below its own label, so a label in a lower row must stay clear of it. Labels are placed right to
 * left, each on the lowest row where it fits, which stacks a cluster of marks as a staircase with
 * the leftmost label on top and every line left of the labels below it. Rows are as many as it
 * takes. Returns each label's row, in the order given.
 */
export function labelRows(labels: readonly RowLabel[], gap = 6, lineGap = 2): number[] {
  const order = labels.map((_, i) => i).sort((a, b) => labels[b]!.lineX - labels[a]!.lineX || b - a);
  const rows = new Array<number>(labels.length).fill(0);
  const placed: number[] = [];
  const clearOf = (l: RowLabel, x: number): boolean => x < l.x - lineGap || x > l.x + l.width + lineGap;
  const fits = (i: number, row: number): boolean => {
    const l = labels[i]!;
    for (const j of placed) {
      const p = labels[j]!;
      const rowOfJ = rows[j]!;
      // Same row: the boxes, with the gap between them.
      if (rowOfJ === row && !(l.x + l.width + gap <= p.x || p.x + p.width + gap <= l.x)) return false;
      // j's line runs through this row: it must miss this label.
      if (rowOfJ > row && !clearOf(l, p.lineX)) return false;
      // This label's line runs through j's row: it must miss j.
      if (rowOfJ < row && !clearOf(p, l.lineX)) return false;
    }
    return true;
  };
  for (const i of order) {
    // A row above every placed label fits unless this label's line crosses a label pulled left at
    // the chart's right edge: then that row it is, rather than climbing forever.
    const top = placed.reduce((m, j) => Math.max(m, rows[j]! + 1), 0);
    let row = 0;
    while (row < top && !fits(i, row)) row++;
    rows[i] = row;
    placed.push(i);
  }
  return rows;
}
