// A gateway started from a config file, as the CLI starts one, so that tests can rewrite the file
// and reload it (gw.reloadFromFile, POST /reload, SIGHUP); and an upstream that holds its replies.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, loadGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import type { AccessLogSink } from '../../gateway/observability/access-log.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { ADMIN_TOKEN } from './gateway-harness.js';

const TEST_ENGINE = ((e) => (e === 'raw' || e === 'node' ? e : undefined))(process.env.NW_TEST_ENGINE);

export interface FileGateway {
  readonly gw: Gateway;
  readonly file: string;
  readonly url: string;
  readonly adminUrl: string;
  /** Rewrites the config file (JSON); the engine the gateway runs stays as it was unless `config` names one. */
  write(config: GatewayConfigInput | string): void;
  close(): Promise<void>;
}

/** A config's listener, admin API and engine as the tests want them (port 0, loopback, NW_TEST_ENGINE). */
export function testConfig(apps: GatewayConfigInput['apps'], extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    name: 'reload-gw',
    listeners: [{ host: '127.0.0.1', port: 0 }],
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    ...(TEST_ENGINE !== undefined ? { engine: TEST_ENGINE } : {}),
    ...extra,
    apps,
  };
}

/** One app for `host` with these N1 (and N2) upstream URLs. */
export function appOn(host: string, n1: readonly string[], n2: readonly string[] = n1): GatewayConfigInput['apps'][string] {
  return {
    hosts: [host],
    n1: { servers: n1.map((url) => ({ url })) },
    n2: { servers: n2.map((url) => ({ url })), publicOrigin: `https://${host}-n2.example.com` },
  };
}

/** Writes `config` to a temp file and starts a gateway from that file. */
export async function startFileGateway(
  config: GatewayConfigInput,
  opts: { logger?: Logger; accessLogSink?: AccessLogSink } = {},
): Promise<FileGateway> {
  const file = join(mkdtempSync(join(tmpdir(), 'nw-reload-')), 'gateway.json');
  const write = (c: GatewayConfigInput | string): void => writeFileSync(file, typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  write(config);
  const gw = await Gateway.start({
    config: loadGatewayConfig(file),
    configFile: file,
    adminToken: ADMIN_TOKEN,
    logger: opts.logger ?? createLogger('silent'),
    ...(opts.accessLogSink ? { accessLogSink: opts.accessLogSink } : {}),
  });
  return { gw, file, url: gw.listeners[0]!.url, adminUrl: gw.adminAddress!.url, write, close: () => gw.close() };
}

/** An upstream whose replies wait until release(); it counts the connections open to it. */
export interface GatedUpstream {
  readonly url: string;
  /** Requests that arrived and wait for release(). */
  readonly waiting: number;
  readonly openConnections: number;
  release(): void;
  close(): Promise<void>;
}

export async function startGatedUpstream(name: string): Promise<GatedUpstream> {
  const waiting: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      waiting.push(() => {
        const body = JSON.stringify({ deployment: name });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-served-by': name });
        res.end(body);
      }),
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get waiting() {
      return waiting.length;
    },
    get openConnections() {
      return sockets.size;
    },
    release() {
      for (const f of waiting.splice(0)) f();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
