import { loadConfigFile, parseConfig, type ConfigFailure } from '../../platform/config-file.js';
import { GatewayError } from '../errors.js';
import { gatewayConfigSchema, type GatewayConfig } from './config-schema.js';

const failWith =
  (code: 'NW_GW_CONFIG_INVALID' | 'NW_GW_RELOAD_INVALID'): ConfigFailure =>
  (detail, cause) =>
    new GatewayError(code, detail, cause === undefined ? undefined : { cause });
const fail = failWith('NW_GW_CONFIG_INVALID');

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseGatewayConfig(raw: unknown, source = '<inline>'): GatewayConfig {
  return parseConfig(gatewayConfigSchema, raw, source, fail);
}

/**
 * Reads, parses (YAML or JSON by extension) and validates a config file. `code` is the error a
 * problem raises: NW_GW_CONFIG_INVALID at start, NW_GW_RELOAD_INVALID when a reload reads it.
 */
export function loadGatewayConfig(
  file: string,
  code: 'NW_GW_CONFIG_INVALID' | 'NW_GW_RELOAD_INVALID' = 'NW_GW_CONFIG_INVALID',
): GatewayConfig {
  return loadConfigFile(gatewayConfigSchema, file, failWith(code));
}
