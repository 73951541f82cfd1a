import type { GatewayConfig } from '../config/config-schema.js';

/** Where access lines go (one call per line, newline included); stdout unless a test or an embedder gives another. */
export type AccessLogSink = (line: string) => void;

/** One finished request, as both engines describe it. */
export interface AccessEntry {
  readonly requestId: string;
  readonly app: string;
  readonly mode: string;
  readonly epoch: number | undefined;
  /** Who answered: n1, n2, or none (the gateway itself). */
  readonly deployment: string;
  readonly method: string;
  readonly path: string;
  /** "1.1" or "1.0". */
  readonly httpVersion: string;
  /** 499 when the client left before its response finished. */
  readonly status: number;
  /** Response body bytes sent to the client (no head, no chunk framing), like nginx's $body_bytes_sent. */
  readonly bytes: number;
  /** From sending the request upstream to the upstream's response head; undefined when no upstream answered. */
  readonly upstreamMs: number | undefined;
  /** From the request's head to its response's end. */
  readonly totalMs: number;
  readonly peer: string;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  readonly engine: 'raw' | 'node';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** nginx's $time_local, in UTC: 10/Oct/2026:13:55:36 +0000. */
function timeLocal(d: Date): string {
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** A field of a combined line in double quotes: quotes and backslashes escaped, control bytes as \xHH (nginx's escape=default). */
function quoted(v: string | undefined): string {
  if (v === undefined || v === '') return '"-"';
  let out = '"';
  for (const ch of v) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * The access log: one line per finished request when `log.access` is on, as a JSON object (every
 * field of AccessEntry) or in nginx's `combined` format (what log tools parse; the JSON line has the
 * request id, app, mode, deployment and timings besides). Written apart from the event log, so
 * `log.level` does not silence it. A reload switches it on or off and changes its format.
 */
export class AccessLog {
  /** Read by the engines on every request before they build an entry. */
  enabled: boolean;
  private format: GatewayConfig['log']['accessFormat'];

  constructor(
    settings: GatewayConfig['log'],
    private readonly gateway: string,
    private readonly sink: AccessLogSink = (line) => void process.stdout.write(line),
    /** The worker (1..N) of a multi-worker gateway, with its pid in each JSON line; undefined in a single process. */
    private readonly worker?: number,
  ) {
    this.enabled = settings.access;
    this.format = settings.accessFormat;
  }

  configure(settings: GatewayConfig['log']): void {
    this.enabled = settings.access;
    this.format = settings.accessFormat;
  }

  record(e: AccessEntry): void {
    if (!this.enabled) return;
    const now = new Date();
    if (this.format === 'combined') {
      const request = `${e.method} ${e.path} HTTP/${e.httpVersion}`;
      this.sink(
        `${e.peer || '-'} - - [${timeLocal(now)}] ${quoted(request)} ${e.status} ${e.bytes} ${quoted(e.referer)} ${quoted(e.userAgent)}\n`,
      );
      return;
    }
    const line = {
      level: 'info',
      time: now.toISOString(),
      gateway: this.gateway,
      ...(this.worker === undefined ? {} : { worker: this.worker, pid: process.pid }),
      requestId: e.requestId,
      app: e.app,
      mode: e.mode,
      epoch: e.epoch,
      deployment: e.deployment,
      method: e.method,
      path: e.path,
      httpVersion: e.httpVersion,
      status: e.status,
      bytes: e.bytes,
      upstreamMs: e.upstreamMs === undefined ? null : round3(e.upstreamMs),
      totalMs: round3(e.totalMs),
      peer: e.peer,
      engine: e.engine,
      event: 'gateway.access',
    };
    this.sink(`${JSON.stringify(line)}\n`);
  }
}
