import { request } from 'undici';
import { readConfigFile } from '../../platform/config-file.js';
import { GatewayError } from '../errors.js';

/** The admin section as written in the file; read without validating the rest (it may be the invalid file). */
interface AdminAddress {
  readonly url: string | undefined;
  readonly tokenEnv: string;
}

function adminOf(raw: unknown): AdminAddress {
  const admin = (raw as { admin?: unknown } | null)?.admin as { host?: unknown; port?: unknown; tokenEnv?: unknown } | undefined;
  const tokenEnv = typeof admin?.tokenEnv === 'string' ? admin.tokenEnv : 'NORTHWEST_ADMIN_TOKEN';
  // Port 0 is picked at start: only the running gateway knows it (--admin, or SIGHUP).
  if (typeof admin?.port !== 'number' || admin.port === 0) return { url: undefined, tokenEnv };
  const host = typeof admin.host === 'string' ? admin.host : '127.0.0.1';
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${admin.port}`, tokenEnv };
}

/** What the command writes; stdout and stderr in the CLI. */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

/**
 * `northwest-gateway reload --config FILE [--admin URL]`: asks the running gateway, through its
 * admin API (POST /reload, with the token from the variable `admin.tokenEnv` names), to read its
 * config file again, and reports what it did. Unlike a bare SIGHUP, the outcome comes back:
 * 0 applied; 1 the gateway refused it (a field only a restart changes) or could not be reached;
 * 2 the file is invalid (each line names the file and the field) or the command was misused.
 */
export async function reloadCommand(configFile: string, adminUrl: string | undefined, io: CommandOutput): Promise<number> {
  let raw: unknown;
  try {
    raw = readConfigFile(configFile, (detail) => new GatewayError('NW_GW_RELOAD_INVALID', detail));
  } catch (err) {
    // Unreadable here: the gateway could not read it either. Still ask it when told where, so it logs the failure too.
    if (adminUrl === undefined) {
      io.err(`northwest-gateway: ${(err as GatewayError).code}: ${(err as Error).message}`);
      return 2;
    }
  }
  const admin = adminOf(raw);
  const url = adminUrl ?? admin.url;
  if (url === undefined) {
    io.err(`northwest-gateway: ${configFile} has no admin section with a fixed port: pass --admin URL, or send the gateway SIGHUP`);
    return 2;
  }
  const token = process.env[admin.tokenEnv];
  if (!token) {
    io.err(`northwest-gateway: ${admin.tokenEnv} is not set: the admin API needs the token to reload`);
    return 2;
  }
  let status: number;
  let body: { error?: { code?: string; message?: string } } & Record<string, unknown>;
  try {
    const res = await request(`${url}/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      headersTimeout: 120_000,
    });
    status = res.statusCode;
    body = (await res.body.json()) as typeof body;
  } catch (err) {
    io.err(`northwest-gateway: cannot reach the gateway's admin API at ${url}: ${(err as Error).message}`);
    return 1;
  }
  if (status === 200) {
    const list = (k: string): string => ((body[k] as string[] | undefined) ?? []).join(' ') || '-';
    io.out(`reloaded ${configFile}: added ${list('added')}; changed ${list('changed')}; removed ${list('removed')}`);
    if (((body.notReady as string[] | undefined) ?? []).length > 0) io.out(`not ready yet (state not applied): ${list('notReady')}`);
    return 0;
  }
  io.err(`northwest-gateway: reload failed: ${body.error?.code ?? status}: ${body.error?.message ?? ''}`);
  return body.error?.code === 'NW_GW_RELOAD_INVALID' ? 2 : 1;
}
