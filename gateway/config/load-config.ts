import { loadConfigFile, parseConfig, type ConfigFailure } from '../../platform/config-file.js';
import { GatewayError } from '../errors.js';
import { gatewayConfigSchema, type GatewayConfig } from './config-schema.js';

const fail: ConfigFailure = (detail, cause) =>
  new GatewayError('NW_GW_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });

/** Validates an already-parsed config object; `source` names it in errors. */
export function parseGatewayConfig(raw: unknown, source = '<inline>'): GatewayConfig {
  return parseConfig(gatewayConfigSchema, raw, source, fail);
}

/** Reads, parses (YAML or JSON by extension) and validates a config file. */
export function loadGatewayConfig(file: string): GatewayConfig {
  return loadConfigFile(gatewayConfigSchema, file, fail);
}
