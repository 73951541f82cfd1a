/**
 * The sample lines of the Prometheus text exposition format (version 0.0.4), as a gateway's
 * /metrics writes them: `name{label="value",...} value [timestamp]`. Comment lines (# HELP, # TYPE)
 * are skipped: the analysis gates know the metric names and types they read.
 *
 * Hand-written because the one small parser on npm (parse-prometheus-text-format) folds every
 * series of a labelled histogram into one, losing the labels the gates select by.
 */

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Thrown for a line that is not a sample; the message names the line number. */
export class PromTextError extends Error {
  override readonly name = 'PromTextError';
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n' };

function parseValue(raw: string): number {
  if (raw === '+Inf' || raw === 'Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  if (raw === 'NaN') return Number.NaN;
  const v = Number(raw);
  if (raw === '' || Number.isNaN(v)) throw new PromTextError(`not a number: ${JSON.stringify(raw)}`);
  return v;
}

/** Reads `{a="x",b="y"}` from the start of `s`; returns the labels and what follows the closing brace. */
function parseLabels(s: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  for (;;) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const name = LABEL_NAME.exec(s.slice(i))?.[0];
    if (!name) throw new PromTextError('bad label name');
    i += name.length;
    while (s[i] === ' ') i++;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new PromTextError(`label ${name}: expected ="`);
    i += 2;
    let value = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new PromTextError(`label ${name}: unterminated value`);
      i++;
      if (c === '"') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const esc = s[i];
      if (esc === undefined) throw new PromTextError(`label ${name}: unterminated value`);
      i++;
      // Only \\, \" and \n are escapes; any other backslash stands for itself.
      value += ESCAPES[esc] ?? `\\${esc}`;
    }
    if (Object.hasOwn(labels, name)) throw new PromTextError(`label ${name} repeated`);
    labels[name] = value;
  }
}

/** Every sample of an exposition; throws PromTextError naming the first line that is not one. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const name = NAME.exec(line)?.[0];
      if (!name) throw new PromTextError('bad metric name');
      let rest = line.slice(name.length);
      let labels: Record<string, string> = {};
      if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest));
      // The value, then an optional timestamp the gates do not need.
      const value = parseValue(rest.trim().split(/\s+/)[0] ?? '');
      out.push({ name, labels, value });
    } catch (err) {
      if (!(err instanceof PromTextError)) throw err;
      throw new PromTextError(`line ${n + 1}: ${err.message}`);
    }
  }
  return out;
}
