/**
 * The one config-file loader: read a YAML (or, for `.json`, JSON) file,
 * validate it against a component's strict zod schema, freeze the result.
 * Every failure names the file and the field; the component decides which
 * coded error carries it (`fail`).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';

/** Builds the component's coded error for a config problem (detail names file and field). */
export type ConfigFailure = (detail: string, cause?: unknown) => Error;

/** Renders zod issues as "file: field.path: message" lines. */
export function formatIssues(source: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const field = i.path.length === 0 ? '(root)' : i.path.map(String).join('.');
      return `${source}: ${field}: ${i.message}`;
    })
    .join('\n');
}

/** Freezes an object graph in place (config is trusted, and never changed, after validation). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed document; `source` names it in errors. The result is frozen. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string, fail: ConfigFailure): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw fail(`\n${formatIssues(source, result.error.issues)}`);
  return deepFreeze(result.data);
}

/** Reads and parses a YAML or JSON file (by extension), without validating it. */
export function readConfigFile(file: string, fail: ConfigFailure): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`${file}: cannot read: ${(err as Error).message}`, err);
  }
  const json = extname(file) === '.json';
  try {
    return json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw fail(`${file}: not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`, err);
  }
}

/** Reads, parses and validates a config file. */
export function loadConfigFile<S extends z.ZodType>(schema: S, file: string, fail: ConfigFailure): z.output<S> {
  return parseConfig(schema, readConfigFile(file, fail), file, fail);
}
