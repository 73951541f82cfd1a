type Level = Map<string, unknown>;

/**
 * The series of one metric, by their label values, found without building a key: one Map level
 * per label. A label value from the config or the state is the same string every time, and V8
 * keeps a string's hash in it, so a lookup on the request path hashes nothing new (a joined key
 * is a new string to build and to hash for every request).
 */
export class SeriesIndex<T> {
  private readonly root: Level = new Map();
  private unlabelled: T | undefined;
  /** Every series, in the order they were added (the order they are rendered in). */
  readonly series: T[] = [];

  find(labels: readonly string[]): T | undefined {
    const last = labels.length - 1;
    if (last < 0) return this.unlabelled;
    let level: Level | undefined = this.root;
    for (let i = 0; i < last && level !== undefined; i++) level = level.get(labels[i]!) as Level | undefined;
    return level?.get(labels[last]!) as T | undefined;
  }

  /** Adds a series (its labels must not have one yet). */
  add(labels: readonly string[], series: T): T {
    this.series.push(series);
    const last = labels.length - 1;
    if (last < 0) {
      this.unlabelled = series;
      return series;
    }
    let level = this.root;
    for (let i = 0; i < last; i++) {
      let next = level.get(labels[i]!) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(labels[i]!, next);
      }
      level = next;
    }
    level.set(labels[last]!, series);
    return series;
  }
}
