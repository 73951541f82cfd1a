// HTTP/2 streams in the raw engine (node:http2's core API, the raw engine's upstream connections):
// what the engine serves itself, what it gives to the node engine through the compatibility API,
// and the bad days of a stream (a body over the limit while it streams, a reset mid-reply, an app
// that answers before the body).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { eventually } from '../support/eventually.js';
import { H2_PREFACE, h2Frame } from '../support/h2-frames.js';
import { h2call, neverEndingPut, startTlsHarness, type TlsHarness } from '../support/tls-gateway.js';

interface AccessLine {
  engine: string;
  httpVersion: string;
  method: string;
  path: string;
  status: number;
}

/** Reply heads an HTTP/1.1 client takes and node:http2 would not send as they are. */
const ODD_HEADS: Record<string, { status: number; headers: Record<string, string | string[]> }> = {
  '/twice': { status: 200, headers: { 'content-type': ['text/plain', 'text/plain; charset=utf-8'], date: ['a', 'b'] } },
  '/h2-settings': { status: 200, headers: { 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA', 'x-kept': 'yes' } },
  '/no-content': { status: 204, headers: { 'content-length': '3', 'x-kept': 'yes' } },
  '/object-names': { status: 200, headers: { constructor: 'c', tostring: 't', ['__proto__']: 'p', 'x-kept': 'yes' } },
};

/**
 * An app whose /slow/<ms> answers after a delay, /early answers 413 without reading the body, /stall never reads nor
 * answers, the paths of ODD_HEADS answer those heads; writes are recorded once whole, every request's head as it comes.
 */
async function startApp(): Promise<{ url: string; writes: string[]; received: string[]; heads: string[]; close(): Promise<void> }> {
  const writes: string[] = [];
  const received: string[] = [];
  const heads: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    heads.push(`${req.method} ${url}`);
    if (url === '/early') {
      const body = 'x'.repeat(20_000);
      res.writeHead(413, { 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    // Takes the head and none of the body, and never answers.
    if (url === '/stall') {
      req.pause();
      return;
    }
    const head = ODD_HEADS[url];
    if (head) {
      res.writeHead(head.status, head.headers);
      res.end(head.status === 204 ? undefined : 'odd');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      received.push(`${req.method} ${url}`);
      const slow = /^\/slow\/(\d+)/.exec(url);
      setTimeout(
        () => {
          if (req.method !== 'GET') writes.push(`${req.method} ${url} ${text}`);
          res.end('done');
        },
        slow ? Number(slow[1]) : 0,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    received,
    heads,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Header fields as HPACK literals without indexing, new names, no Huffman (each name and value under 127 bytes). */
function hpackLiterals(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields))
    parts.push(Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value));
  return Buffer.concat(parts);
}

/** Stream 1: a PUT of `size` bytes with its Content-Length, in DATA frames of 16 KiB (the last one ends the stream), as one buffer. */
function uploadFrames(path: string, size: number, fill: string): Buffer {
  const head = { ':method': 'PUT', ':scheme': 'https', ':path': path, ':authority': 'shop.test', 'content-length': String(size) };
  const frames = [h2Frame(0x1, 0x4, 1, hpackLiterals(head))];
  for (let at = 0; at < size; at += 16_384) {
    const end = Math.min(size, at + 16_384);
    frames.push(h2Frame(0x0, end === size ? 0x1 : 0, 1, Buffer.alloc(end - at, fill)));
  }
  return Buffer.concat(frames);
}

/** An HTTP/2 client of raw frames over TLS: the frames node's own client will not send (a reset without END_STREAM). */
async function rawH2Client(
  h: TlsHarness,
): Promise<{ socket: TLSSocket; frame(type: number, flags: number, id: number, payload: Buffer): void }> {
  const { port } = new URL(h.url);
  const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca: h.ca.certPem, servername: 'shop.test', ALPNProtocols: ['h2'] });
  socket.on('error', () => undefined);
  await once(socket, 'secureConnect');
  const frame = (type: number, flags: number, id: number, payload: Buffer): void => void socket.write(h2Frame(type, flags, id, payload));
  socket.write(H2_PREFACE);
  frame(0x4, 0, 0, Buffer.alloc(0));
  // The server's SETTINGS come first on its side: acknowledged once anything came.
  socket.once('data', () => frame(0x4, 0x1, 0, Buffer.alloc(0)));
  socket.resume();
  return { socket, frame };
}

/**
 * A PUT to the app's /stall, which reads nothing: the gateway pauses the stream once the upstream
 * connection is full, and the client's window closes. Resolves once the client's buffer stops moving.
 */
async function stalledUpload(session: ClientHttp2Session): Promise<ClientHttp2Stream> {
  const stream = session.request({ ':method': 'PUT', ':path': '/stall', ':authority': 'shop.test' });
  stream.on('error', () => undefined);
  stream.write(Buffer.alloc(8 * 1024 * 1024, 's'));
  let last = -1;
  const stalled = (): boolean => {
    const b = stream.bufferSize;
    const same = b > 0 && b === last;
    last = b;
    return same;
  };
  await eventually(stalled, { timeoutMs: 10_000, intervalMs: 200, message: 'the upload stalls' });
  return stream;
}

/**
 * Ends a body the app answered early and reads its reply, left unread until now: the stream must
 * close without an error code (the reply whole, not reset). Returns the reply's body length.
 */
async function earlyReplyRead(stream: ClientHttp2Stream, closed: Promise<unknown>): Promise<number> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.end();
  await closed;
  assert.equal(stream.rstCode, h2.NGHTTP2_NO_ERROR);
  return Buffer.concat(chunks).length;
}

describe('gateway: HTTP/2 streams in the raw engine', () => {
  let h: TlsHarness;
  let session: ClientHttp2Session;
  const lines: AccessLine[] = [];

  async function start(extra: Parameters<typeof startTlsHarness>[0] = {}): Promise<void> {
    lines.length = 0;
    h = await startTlsHarness({
      ...extra,
      config: { engine: 'raw', log: { level: 'silent', access: true }, ...extra.config },
      tls: { http2: true },
      accessLogSink: (line) => void lines.push(JSON.parse(line) as AccessLine),
    });
    session = await h.http2();
  }
  afterEach(() => h.close());

  it('serves reads and writes itself: the access log says engine raw and HTTP/2', async () => {
    await start();
    assert.equal((await h2call(session, '/echo')).status, 200);
    const w = await h2call(session, '/kv/a', { method: 'PUT', body: 'on-n1' });
    assert.equal(w.status, 200);
    assert.equal(h.n1[0]!.store.get('a'), 'on-n1');
    await eventually(() => lines.length === 2, { timeoutMs: 5000, message: 'two access lines' });
    assert.deepEqual(
      lines.map((l) => [l.engine, l.httpVersion, l.method, l.path, l.status]),
      [
        ['raw', '2.0', 'GET', '/echo', 200],
        ['raw', '2.0', 'PUT', '/kv/a', 200],
      ],
    );
  });

  it('gives a mirrored write to the node engine (compatibility API), its body whole at both deployments', async () => {
    await start();
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    const body = 'm'.repeat(200 * 1024);
    const w = await h2call(session, '/kv/m', { method: 'POST', body });
    assert.equal(w.status, 200);
    assert.equal(h.n1[0]!.store.get('m'), body);
    assert.equal(h.n2[0]!.store.get('m'), body);
    await eventually(() => lines.length === 1, { timeoutMs: 5000, message: 'an access line' });
    assert.equal(lines[0]!.engine, 'node');
  });

  it('a held write let go into a mode it does not serve (proxy mirroring to N1) goes to the node engine with its whole body', async () => {
    await start();
    await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
    const body = 'h'.repeat(100 * 1024);
    const held = h2call(session, '/kv/f', { method: 'PUT', body });
    await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the write is held' });
    await h.gw.applyState('shop', { epoch: 2, mode: 'proxy', mirrorWritesToN1: true });
    const w = await held;
    assert.equal(w.status, 200);
    assert.equal(w.headers['x-northwest-deployment'], 'n2');
    assert.equal(h.n2[0]!.store.get('f'), body);
    assert.equal(h.n1[0]!.store.get('f'), body);
  });

  it('the access log says the same HTTP version of a stream whichever engine serves it (HTTP/2.0, as node:http2 says it)', async () => {
    await start();
    assert.equal((await h2call(session, '/echo')).status, 200);
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    assert.equal((await h2call(session, '/kv/v', { method: 'PUT', body: 'v' })).status, 200);
    await eventually(() => lines.length === 2, { timeoutMs: 5000, message: 'two access lines' });
    assert.deepEqual(
      lines.map((l) => [l.engine, l.httpVersion]),
      [
        ['raw', '2.0'],
        ['node', '2.0'],
      ],
    );
  });

  it('a POST, PUT or PATCH without DATA goes upstream with content-length: 0, as the node engine sends it', async () => {
    await start();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const stream = session.request({ ':method': method, ':path': `/empty-${method}`, ':authority': 'shop.test' }, { endStream: true });
      stream.on('error', () => undefined);
      stream.resume();
      await once(stream, 'end');
    }
    const lengths = h.n1[0]!.seen.filter((r) => r.path.startsWith('/empty-')).map((r) => [r.method, r.headers['content-length']]);
    assert.deepEqual(lengths, [
      ['POST', '0'],
      ['PUT', '0'],
      ['PATCH', '0'],
      ['DELETE', undefined],
    ]);
  });

  it('gives Expect: 100-continue to the node engine: the body goes after the 100 and is stored', async () => {
    await start();
    const stream = session.request({ ':method': 'PUT', ':path': '/kv/e', ':authority': 'shop.test', expect: '100-continue' });
    stream.on('error', () => undefined);
    await once(stream, 'continue');
    stream.end('after-100');
    const [headers] = await once(stream, 'response');
    assert.equal(headers[':status'], 200);
    stream.resume();
    await once(stream, 'end');
    assert.equal(h.n1[0]!.store.get('e'), 'after-100');
  });

  it('refuses a body without Content-Length that grows over limits.maxBodyBytes with 413 while it streams; nothing is stored', async () => {
    await start({ config: { limits: { maxBodyBytes: 64 * 1024 } } });
    const stream = session.request({ ':method': 'PUT', ':path': '/kv/big', ':authority': 'shop.test' });
    stream.on('error', () => undefined);
    const piece = Buffer.alloc(16 * 1024, 'b');
    for (let i = 0; i < 6; i++) stream.write(piece);
    const [headers] = await once(stream, 'response');
    assert.equal(headers[':status'], 413);
    assert.equal(headers['x-northwest-error'], 'NW_GW_BODY_TOO_LARGE');
    stream.close(h2.NGHTTP2_CANCEL);
    assert.equal((await h2call(session, '/echo')).status, 200);
    assert.equal(h.n1[0]!.store.has('big'), false);
    assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_BODY_TOO_LARGE']), 1);
  });

  it('refuses a body that takes longer than timeouts.clientRequestMs with 408; a write held longer by a fence is not cut', async () => {
    await start({ config: { timeouts: { clientHeadersMs: 200, clientRequestMs: 400 } } });
    const slow = session.request({ ':method': 'PUT', ':path': '/kv/slow', ':authority': 'shop.test' });
    slow.on('error', () => undefined);
    slow.write('part');
    const [headers] = await once(slow, 'response');
    assert.equal(headers[':status'], 408);
    assert.equal(headers['x-northwest-error'], 'NW_GW_CLIENT_TIMEOUT');
    slow.close(h2.NGHTTP2_CANCEL);
    assert.equal(h.n1[0]!.store.has('slow'), false);
    // The deadline runs from the first read of the body, not from the HEADERS: a hold does not count.
    await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
    const held = h2call(session, '/kv/held', { method: 'PUT', body: 'waited' });
    await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the write is held' });
    await new Promise((r) => setTimeout(r, 700));
    await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
    assert.equal((await held).status, 200);
    assert.equal(h.n2[0]!.store.get('held'), 'waited');
  });

  it('refuses a mirrored write (compatibility API) whose body is slower than timeouts.clientRequestMs: 408, nothing stored', async () => {
    await start({ config: { timeouts: { clientHeadersMs: 200, clientRequestMs: 400 } } });
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
    const { headers, rstCode } = await neverEndingPut(session, '/kv/slow-m');
    assert.equal(headers[':status'], 408);
    assert.equal(headers['x-northwest-error'], 'NW_GW_CLIENT_TIMEOUT');
    assert.equal(rstCode, h2.NGHTTP2_CANCEL, 'the stream is reset: its body stops');
    assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_CLIENT_TIMEOUT']), 1);
    assert.equal(h.n1[0]!.store.has('slow-m'), false);
    assert.equal(h.n2[0]!.store.has('slow-m'), false);
    // The session goes on: the next mirrored write is whole at both sides.
    assert.equal((await h2call(session, '/kv/next', { method: 'PUT', body: 'whole' })).status, 200);
    assert.equal(h.n1[0]!.store.get('next'), 'whole');
    assert.equal(h.n2[0]!.store.get('next'), 'whole');
  });

  describe('with an app of its own', () => {
    let app: Awaited<ReturnType<typeof startApp>>;
    beforeEach(async () => {
      app = await startApp();
      await start({ n1Urls: [app.url] });
    });
    afterEach(() => app.close());

    it('a write whose client resets its stream after it went out whole completes at the app; the session serves on', async () => {
      const stream = session.request({ ':method': 'PUT', ':path': '/slow/300', ':authority': 'shop.test' });
      stream.on('error', () => undefined);
      stream.end('kept');
      await eventually(() => app.received.includes('PUT /slow/300'), { timeoutMs: 5000, message: 'the app has the write' });
      stream.close(h2.NGHTTP2_CANCEL);
      assert.equal((await h2call(session, '/slow/0')).status, 200);
      await eventually(() => app.writes.includes('PUT /slow/300 kept'), { timeoutMs: 5000, message: 'the write completed' });
      await eventually(() => h.gw.metrics.inFlight.get(['shop']) === 0, { timeoutMs: 5000, message: 'nothing in flight' });
    });

    it('a write whose client resets its stream right after the last DATA frame counts until the app answered it', async () => {
      // The body is whole upstream once its last byte is written: the stream's 'end' comes a turn later
      // (later still while the stream is paused for an upstream buffer over its mark), its 'aborted' in
      // the turn of the reset. A write ended at the reset would let a fence pass while the app commits it.
      assert.equal((await h2call(session, '/slow/0')).status, 200, 'an idle upstream connection is ready');
      const cutter = await rawH2Client(h);
      const size = 60_000;
      const cancel = Buffer.alloc(4);
      cancel.writeUInt32BE(h2.NGHTTP2_CANCEL);
      // One write: the last DATA frame and the reset reach the gateway in the same read.
      cutter.socket.write(Buffer.concat([uploadFrames('/slow/400?whole', size, 'w'), h2Frame(0x3, 0, 1, cancel)]));
      await eventually(() => app.received.includes('PUT /slow/400?whole'), { timeoutMs: 5000, message: 'the app has the whole write' });
      assert.equal(await h.gw.writesEnded(100), false, 'the write is in flight while the app has not answered');
      await eventually(() => app.writes.includes(`PUT /slow/400?whole ${'w'.repeat(size)}`), { timeoutMs: 5000, message: 'committed' });
      assert.equal(await h.gw.writesEnded(5000), true);
      cutter.socket.destroy();
    });

    it('an app that answers before reading the body: the client gets the whole reply, the session serves on', async () => {
      const stream = session.request({ ':method': 'POST', ':path': '/early', ':authority': 'shop.test' });
      stream.on('error', () => undefined);
      stream.write(Buffer.alloc(256 * 1024, 'p'));
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      const [headers] = await once(stream, 'response');
      await once(stream, 'end');
      assert.equal(headers[':status'], 413);
      assert.equal(Buffer.concat(chunks).length, 20_000);
      stream.close();
      assert.equal((await h2call(session, '/slow/0')).status, 200);
    });

    it('a body that goes on over limits.maxBodyBytes after the reply ended is dropped: the reply stands', async () => {
      await h.close();
      await start({ n1Urls: [app.url], config: { limits: { maxBodyBytes: 64 * 1024 } } });
      const stream = session.request({ ':method': 'POST', ':path': '/early', ':authority': 'shop.test' });
      stream.on('error', () => undefined);
      const closed = new Promise((r) => stream.once('close', r));
      stream.write(Buffer.alloc(48 * 1024, 'p'));
      const [headers] = await once(stream, 'response');
      assert.equal(headers[':status'], 413);
      // The whole reply (END_STREAM included) is here, unread, while more of the body goes.
      stream.write(Buffer.alloc(48 * 1024, 'p'));
      await eventually(() => stream.bufferSize === 0 || stream.destroyed, { timeoutMs: 5000, message: 'the body went' });
      // The gateway answers a PING after the frames before it: it has had the whole body.
      await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
      assert.equal(await earlyReplyRead(stream, closed), 20_000);
      assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_BODY_TOO_LARGE']) ?? 0, 0);
    });

    it('passes reply heads an HTTP/1.1 client takes: a repeated single-value header, no http2-settings, a 204 without length', async () => {
      const twice = await h2call(session, '/twice');
      assert.equal(twice.status, 200);
      assert.equal(twice.text, 'odd');
      const settings = await h2call(session, '/h2-settings');
      assert.equal(settings.status, 200);
      assert.equal(settings.headers['x-kept'], 'yes');
      assert.equal(settings.headers['http2-settings'], undefined);
      const none = await h2call(session, '/no-content');
      assert.equal(none.status, 204);
      assert.equal(none.headers['x-kept'], 'yes');
      assert.equal(none.headers['content-length'], undefined);
      assert.equal(h.gw.metrics.errors.get(['shop', 'NW_GW_CLIENT_ABORTED']) ?? 0, 0);
    });

    it('passes reply headers named as members of an object (constructor, __proto__) as they came', async () => {
      const r = await h2call(session, '/object-names');
      assert.equal(r.status, 200);
      const names = ['constructor', 'tostring', '__proto__', 'x-kept'];
      assert.deepEqual(
        names.map((n) => Object.getOwnPropertyDescriptor(r.headers, n)?.value),
        ['c', 't', 'p', 'yes'],
      );
    });

    it('a stream reset while its body waits on a slow app is over: its request deadline passes without a word to it', async () => {
      await h.close();
      await start({ n1Urls: [app.url], config: { timeouts: { clientHeadersMs: 200, clientRequestMs: 400 } } });
      const stream = await stalledUpload(session);
      // node's client sends no END_STREAM before this reset (its DATA is stuck): the gateway's stream is closed, not ended.
      stream.close(h2.NGHTTP2_NO_ERROR);
      await eventually(() => h.gw.pendingRequests === 0, { timeoutMs: 5000, message: 'the request ended' });
      assert.equal(await h.gw.writesEnded(5000), true);
      // Past the deadline (the engine's tick included), the gateway still serves.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await h2call(session, '/slow/0')).status, 200);
      assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_CLIENT_TIMEOUT']) ?? 0, 0);
    });

    it('a body still coming after the app answered early is not cut at its request deadline: the reply stands', async () => {
      await h.close();
      await start({ n1Urls: [app.url], config: { timeouts: { clientHeadersMs: 200, clientRequestMs: 400 } } });
      const stream = session.request({ ':method': 'POST', ':path': '/early', ':authority': 'shop.test' });
      stream.on('error', () => undefined);
      const closed = new Promise((r) => stream.once('close', r));
      stream.write(Buffer.alloc(1024, 'p'));
      const [headers] = await once(stream, 'response');
      assert.equal(headers[':status'], 413);
      // Past the deadline (and the engine's tick) with the body still open and the reply not read.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await earlyReplyRead(stream, closed), 20_000);
      assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_CLIENT_TIMEOUT']) ?? 0, 0);
    });

    it('a stream reset while its body waits on a slow app is let go: node destroys it, its buffered body with it', async () => {
      // The gateway's own stream, as node:http2 reports it.
      let served: ServerHttp2Stream | undefined;
      const onStart = (message: unknown): void => {
        const { stream, headers } = message as { stream: ServerHttp2Stream; headers: Record<string, string> };
        if (headers[':path'] === '/stall') served = stream;
      };
      subscribe('http2.server.stream.start', onStart);
      try {
        const stream = await stalledUpload(session);
        stream.close(h2.NGHTTP2_NO_ERROR);
        await eventually(() => h.gw.pendingRequests === 0, { timeoutMs: 5000, message: 'the request ended' });
        assert.ok(served, "node:http2 reported the gateway's stream");
        await eventually(() => served?.destroyed === true, { timeoutMs: 5000, message: "the gateway's stream is destroyed" });
      } finally {
        unsubscribe('http2.server.stream.start', onStart);
      }
    });

    it('a client that resets its stream with NO_ERROR while its body streams: no whole request upstream, nothing committed', async () => {
      // node:http2 ends the readable side of a stream reset with NO_ERROR as if END_STREAM had come.
      // node's own client sends END_STREAM before such a reset: this one is a client of raw frames.
      const cutter = await rawH2Client(h);
      cutter.frame(0x1, 0x4, 1, hpackLiterals({ ':method': 'PUT', ':scheme': 'https', ':path': '/slow/0?cut', ':authority': 'shop.test' }));
      cutter.frame(0x0, 0, 1, Buffer.from('part of a body'));
      await eventually(() => app.heads.includes('PUT /slow/0?cut'), { timeoutMs: 5000, message: 'the app has the head' });
      const code = Buffer.alloc(4);
      code.writeUInt32BE(h2.NGHTTP2_NO_ERROR);
      cutter.frame(0x3, 0, 1, code);
      await eventually(() => h.gw.pendingRequests === 0, { timeoutMs: 5000, message: 'the request ended' });
      assert.equal(await h.gw.writesEnded(5000), true);
      assert.equal((await h2call(session, '/slow/0?after', { method: 'PUT', body: 'whole' })).status, 200);
      assert.deepEqual(app.writes, ['PUT /slow/0?after whole']);
      cutter.socket.destroy();
    });
  });
});
