import { once } from 'node:events';
import { type ClientHttp2Session, connect as connectHttp2, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Agent, type Dispatcher, request } from 'undici';
import { type Harness, type HarnessOptions, startGatewayHarness } from './gateway-harness.js';
import { type CertDir, certDir, createTestCa, type TestCa, type TestCertificate } from './test-certificates.js';

/** A gateway harness whose listener terminates TLS with certificates of a throw-away CA. */
export interface TlsHarness extends Harness {
  readonly ca: TestCa;
  readonly certs: CertDir;
  /** The default certificate (shop.test, localhost, 127.0.0.1). */
  readonly serverCert: TestCertificate;
  /** An undici dispatcher trusting the test CA (HTTP/1.1 over TLS). */
  readonly https: Dispatcher;
  /** A new HTTP/2 session to the listener (SNI `shop.test` unless told). */
  http2(servername?: string): Promise<ClientHttp2Session>;
}

export interface TlsHarnessOptions extends HarnessOptions {
  /** Extra fields of the listener's `tls` section (sni, http2). */
  tls?: Record<string, unknown>;
  /** Called with the CA and the certificate directory before the gateway starts (to write SNI certificates). */
  prepare?: (ca: TestCa, certs: CertDir) => Promise<Record<string, unknown> | undefined>;
}

/** Starts echo upstreams and a gateway with one TLS listener on 127.0.0.1:0. */
export async function startTlsHarness(opts: TlsHarnessOptions = {}): Promise<TlsHarness> {
  const ca = await createTestCa();
  const certs = certDir();
  const serverCert = await ca.issue(['shop.test', 'localhost', '127.0.0.1']);
  const files = certs.write('default', serverCert);
  const extra = (await opts.prepare?.(ca, certs)) ?? {};
  const h = await startGatewayHarness({
    ...opts,
    config: { ...opts.config, listeners: [{ host: '127.0.0.1', port: 0, tls: { ...files, ...opts.tls, ...extra } }] },
  });
  const https = new Agent({ connect: { ca: ca.certPem, servername: 'shop.test' } });
  const sessions = new Set<ClientHttp2Session>();
  return {
    ...h,
    ca,
    certs,
    serverCert,
    https,
    http2: (servername = 'shop.test') =>
      new Promise((resolve, reject) => {
        const s = connectHttp2(h.url, { ca: ca.certPem, servername });
        sessions.add(s);
        s.once('close', () => sessions.delete(s));
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
    async close() {
      for (const s of sessions) s.destroy();
      await https.close();
      await h.close();
      certs.remove();
    },
  };
}

export interface Http2Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** One request on an HTTP/2 session (`:authority` shop.test unless told); resolves with the whole reply. */
export function h2call(
  session: ClientHttp2Session,
  path: string,
  opts: { method?: string; body?: string | Buffer; headers?: OutgoingHttpHeaders; authority?: string } = {},
): Promise<Http2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': opts.method ?? 'GET',
      ':path': path,
      ':authority': opts.authority ?? 'shop.test',
      ...opts.headers,
    });
    const chunks: Buffer[] = [];
    let headers: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, text: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    stream.end(opts.body);
  });
}

/**
 * A PUT whose body never ends (one piece, then nothing): resolves with the head of the reply the
 * gateway gave it and the stream's close code, once the stream closed.
 */
export async function neverEndingPut(
  session: ClientHttp2Session,
  path: string,
): Promise<{ headers: IncomingHttpHeaders; rstCode: number }> {
  const stream = session.request({ ':method': 'PUT', ':path': path, ':authority': 'shop.test' });
  stream.on('error', () => undefined);
  stream.write('part');
  const closed = once(stream, 'close');
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  await closed;
  return { headers, rstCode: stream.rstCode ?? -1 };
}

/** One HTTP/1.1 request over TLS (Host shop.test unless told). */
export async function httpsCall(
  h: TlsHarness,
  path: string,
  opts: { method?: Dispatcher.HttpMethod; host?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const res = await request(h.url + path, {
    method: opts.method ?? 'GET',
    headers: { host: opts.host ?? 'shop.test', ...opts.headers },
    body: opts.body ?? null,
    dispatcher: h.https,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}
