import { loadGatewayConfig } from '../config/load-config.js';
import { isGatewayError } from '../errors.js';
import type { CommandOutput } from './reload-command.js';

/**
 * `northwest-gateway --check-config FILE`, like `nginx -t`: reads and validates the file the way the
 * gateway does at start and exits 0 (valid) or 2 (each problem on a line naming the file and the field).
 */
export function checkConfig(file: string, io: CommandOutput): number {
  try {
    const config = loadGatewayConfig(file);
    const apps = Object.keys(config.apps);
    io.out(`${file}: ok (${apps.length} app${apps.length === 1 ? '' : 's'}: ${apps.join(', ') || '-'}; engine ${config.engine})`);
    return 0;
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    io.err(`northwest-gateway: ${err.code}: ${err.message}`);
    return 2;
  }
}
