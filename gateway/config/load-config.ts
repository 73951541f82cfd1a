import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';
import { gatewayConfigSchema, type GatewayConfig } from './config-schema.js';

/** Renders zod issues as "file: field.path: message" lines. */
export function formatIssues(source: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const field = i.path.length === 0 ? '(root)' : i.path.map(String).join('.');
      return `${source}: ${field}: ${i.message}`;
    })
    .join('\n');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseGatewayConfig(raw: unknown, source = '<inline>'): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(raw);
  if (!result.success) throw new GatewayError('NW_GW_CONFIG_INVALID', `\n${formatIssues(source, result.error.issues)}`);
  return deepFreeze(result.data);
}

/** Reads, parses (YAML or JSON by extension) and validates a config file. */
export function loadGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError('NW_GW_CONFIG_INVALID', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new GatewayError('NW_GW_CONFIG_INVALID', `${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { cause: err });
  }
  return parseGatewayConfig(raw, file);
}
