// The proxy bench's h2 load loop against a local h2 server that counts what it got: every stream
// sent is accounted for (completed or an error), non-2xx replies and resets are counted as such,
// and the loop holds sessions × streams open at once.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureServer, constants, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, before, describe, it } from 'mocha';
import type { ClientTls } from '../../loadgen/bench/bench-certificate.js';
import { POST_BODY_BYTES, WORKLOADS } from '../../loadgen/bench/bench-workloads.js';
import { h2Exchange, runH2Load } from '../../loadgen/bench/h2-load.js';
import { createTestCa, type TestCertificate } from '../support/test-certificates.js';

/** What the server saw. */
interface Seen {
  streams: number;
  answered: number;
  non2xx: number;
  resets: number;
  bodyBytes: number;
  open: number;
  maxOpen: number;
  /** Streams open on the session when it was cut. */
  openAtCut: number;
  sessions: Set<ServerHttp2Session>;
}

/**
 * How the server answers stream n (1-based): 200 with 1 KB, another status, a reset before any
 * reply (as a server at its stream limit refuses one), its session cut in the middle of the reply,
 * or not at all.
 */
type Answer = (n: number) => number | 'reset' | 'cut' | 'silence';

const GET = WORKLOADS.find((w) => w.name === 'get-1k')!;
const POST = WORKLOADS.find((w) => w.name === 'post-4k')!;

describe('h2 load loop (proxy bench)', function () {
  this.timeout(20_000);
  let cert: TestCertificate;
  let tls: ClientTls;
  let server: Http2SecureServer | undefined;
  let url: string;
  let seen: Seen;

  before(async () => {
    const ca = await createTestCa();
    cert = await ca.issue(['localhost', '127.0.0.1']);
    tls = { ca: ca.certPem, servername: 'localhost' };
  });

  /** An h2 server answering each stream, `delayMs` after its request ended, as `answer` says. */
  async function serve(answer: Answer, delayMs: number | ((n: number) => number)): Promise<void> {
    const delay = typeof delayMs === 'number' ? () => delayMs : delayMs;
    seen = { streams: 0, answered: 0, non2xx: 0, resets: 0, bodyBytes: 0, open: 0, maxOpen: 0, openAtCut: 0, sessions: new Set() };
    server = createSecureServer({ cert: cert.certPem, key: cert.keyPem, allowHTTP1: false });
    server.on('session', (s: ServerHttp2Session) => seen.sessions.add(s));
    server.on('stream', (stream: ServerHttp2Stream) => {
      const n = ++seen.streams;
      seen.open += 1;
      seen.maxOpen = Math.max(seen.maxOpen, seen.open);
      stream.on('data', (c: Buffer) => {
        seen.bodyBytes += c.length;
      });
      // A stream it resets itself errors on this side too.
      stream.on('error', () => undefined);
      stream.once('close', () => {
        seen.open -= 1;
      });
      stream.once('end', () => {
        setTimeout(() => {
          if (stream.destroyed) return;
          const a = answer(n);
          if (a === 'silence') return;
          if (a === 'reset') {
            seen.resets += 1;
            stream.close(constants.NGHTTP2_REFUSED_STREAM);
            return;
          }
          if (a === 'cut') {
            // A status and part of the body came; the rest never will (node's client still emits 'end').
            seen.openAtCut = seen.open;
            stream.respond({ ':status': 200 });
            stream.write(Buffer.alloc(100, 'a'), () => stream.session?.destroy());
            return;
          }
          seen.answered += 1;
          if (a !== 200) seen.non2xx += 1;
          stream.respond({ ':status': a });
          stream.end(Buffer.alloc(1024, 'a'));
        }, delay(n));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    for (const session of seen.sessions) session.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('accounts for every stream it sent: each one completed or failed, as the server saw it', async () => {
    await serve((n) => (n % 3 === 0 ? 503 : 200), 2);
    const r = await runH2Load({ baseUrl: url, workload: GET, sessions: 2, streamsPerSession: 3, durationS: 0.4, tls });
    assert.equal(r.sent, seen.streams, 'streams the server got');
    assert.equal(r.completed + r.errors, r.sent);
    assert.equal(r.errors, 0);
    assert.equal(r.completed, seen.answered);
    assert.equal(r.non2xx, seen.non2xx);
    assert.ok(r.non2xx > 0, 'some 503s were sent');
    assert.equal(r.latencyUs.count, r.completed - r.non2xx, 'latency of the 2xx replies only');
    assert.equal(seen.sessions.size, 2);
    assert.equal(r.negotiated, 'TLSv1.3 h2');
    assert.ok(Math.abs(r.rps - r.completed / r.durationS) < 1e-6);
  });

  it('keeps sessions × streams open at once, and sends each POST body whole', async () => {
    await serve(() => 200, 30);
    const r = await runH2Load({ baseUrl: url, workload: POST, sessions: 3, streamsPerSession: 4, durationS: 0.3, tls });
    assert.equal(seen.maxOpen, 12);
    assert.equal(r.errors, 0);
    assert.equal(seen.bodyBytes, r.sent * POST_BODY_BYTES);
  });

  it('counts streams the server refuses (RST_STREAM before a reply) as errors', async () => {
    await serve((n) => (n % 5 === 0 ? 'reset' : 200), 1);
    const r = await runH2Load({ baseUrl: url, workload: GET, sessions: 1, streamsPerSession: 4, durationS: 0.3, tls });
    assert.ok(seen.resets > 0);
    assert.equal(r.errors, seen.resets);
    assert.equal(r.completed, seen.answered);
    assert.equal(r.sent, seen.streams);
  });

  it('counts a reply cut after its status came as an error, and the other streams of its session', async () => {
    // Stream 6 is cut at once (its head and 100 bytes sent, then the session destroyed); the others are answered after 30 ms.
    await serve(
      (n) => (n === 6 ? 'cut' : 200),
      (n) => (n === 6 ? 0 : 30),
    );
    const r = await runH2Load({ baseUrl: url, workload: GET, sessions: 1, streamsPerSession: 4, durationS: 0.5, tls });
    assert.ok(seen.openAtCut >= 1);
    assert.equal(r.completed, seen.answered, 'only the replies read whole');
    assert.ok(r.errors >= seen.openAtCut, `${r.errors} errors, ${seen.openAtCut} streams open at the cut`);
    assert.equal(r.completed + r.errors, r.sent);
    // Streams started before the client saw the session go never reached the server; none after it.
    assert.ok(r.sent <= seen.streams + 4, `${r.sent} sent, ${seen.streams} seen`);
  });

  it('counts a stream with no reply within its time limit as an error and a timeout', async () => {
    await serve(() => 'silence', 0);
    const r = await runH2Load({
      baseUrl: url,
      workload: GET,
      sessions: 1,
      streamsPerSession: 2,
      durationS: 0.1,
      tls,
      streamTimeoutMs: 200,
    });
    assert.equal(r.sent, 2);
    assert.equal(r.errors, 2);
    assert.equal(r.timeouts, 2);
    assert.equal(r.completed, 0);
  });

  it('refuses a target whose certificate the CA did not sign', async () => {
    await serve(() => 200, 0);
    const other = await createTestCa('Another CA');
    const load = runH2Load({
      baseUrl: url,
      workload: GET,
      sessions: 1,
      streamsPerSession: 1,
      durationS: 0.1,
      tls: { ...tls, ca: other.certPem },
    });
    await assert.rejects(load, /cannot open a session/);
  });

  it('refuses a TLS target that does not negotiate h2', async () => {
    const https: HttpsServer = createHttpsServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ['http/1.1'] }, (_q, res) =>
      res.end(),
    );
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    try {
      const base = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
      await assert.rejects(runH2Load({ baseUrl: base, workload: GET, sessions: 1, streamsPerSession: 1, durationS: 0.1, tls }), /h2 load/);
    } finally {
      https.closeAllConnections();
      await new Promise<void>((r) => https.close(() => r()));
    }
  });

  it('h2Exchange gives one reply whole, with what was negotiated', async () => {
    await serve(() => 200, 0);
    const r = await h2Exchange(url, POST, tls);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1024);
    assert.equal(r.negotiated, 'TLSv1.3 h2');
    assert.equal(seen.bodyBytes, POST_BODY_BYTES);
  });
});
