import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { GatewayError } from '../../gateway/errors.js';
import type { WriteGuard } from '../../gateway/index.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { eventually } from '../support/eventually.js';
import { startRefusingPort } from '../support/faulty-upstreams.js';

/** A WebSocket echo server standing in for one deployment: replies "<name>:<message>". */
interface WsEchoUpstream {
  readonly url: string;
  /** Handshake headers of every connection it accepted, oldest first. */
  readonly handshakes: IncomingHttpHeaders[];
  /** Every message it received, in order. */
  readonly received: string[];
  /** The close code of every connection that closed (1006: closed without a close frame). */
  readonly closeCodes: number[];
  readonly server: WebSocketServer;
  close(): Promise<void>;
}

async function startWsEchoUpstream(name: string): Promise<WsEchoUpstream> {
  const handshakes: IncomingHttpHeaders[] = [];
  const received: string[] = [];
  const closeCodes: number[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => {
    handshakes.push({ ...req.headers });
    ws.on('message', (data) => {
      received.push(String(data));
      ws.send(`${name}:${String(data)}`);
    });
    ws.on('close', (code) => closeCodes.push(code));
  });
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handshakes,
    received,
    closeCodes,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}

/**
 * A WebSocket upstream the test drives byte by byte: it accepts the handshake, then writes only
 * what the test writes on its sockets, and keeps its side open after the gateway's FIN until told.
 */
interface RawWsUpstream {
  readonly url: string;
  readonly sockets: Duplex[];
  /** Bytes each socket received after the handshake. */
  readonly received: Buffer[];
  /** Whether each socket got the gateway's FIN. */
  readonly ended: boolean[];
  /** Handshakes not answered yet (with `holdHandshakes`): call one to send its 101. */
  readonly pendingAccepts: (() => void)[];
  close(): Promise<void>;
}

async function startRawWsUpstream(opts: { holdHandshakes?: boolean } = {}): Promise<RawWsUpstream> {
  const sockets: Duplex[] = [];
  const received: Buffer[] = [];
  const ended: boolean[] = [];
  const pendingAccepts: (() => void)[] = [];
  const server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket: Duplex) => {
    const i = sockets.length;
    sockets.push(socket);
    received.push(Buffer.alloc(0));
    ended.push(false);
    socket.on('data', (c: Buffer) => {
      received[i] = Buffer.concat([received[i]!, c]);
    });
    socket.on('end', () => {
      ended[i] = true;
    });
    socket.on('error', () => undefined);
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    const accept101 = (): void => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
      );
    };
    if (opts.holdHandshakes) pendingAccepts.push(accept101);
    else accept101();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    received,
    ended,
    pendingAccepts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The code and reason of the unmasked-by-us close frame a raw upstream received from the gateway. */
function decodeMaskedClose(bytes: Buffer): { code: number; reason: string } {
  assert.equal(bytes[0], 0x88, 'a close frame with FIN');
  assert.ok((bytes[1]! & 0x80) !== 0, 'masked, as frames from a client must be');
  const len = bytes[1]! & 0x7f;
  const key = bytes.subarray(2, 6);
  const payload = Buffer.from(bytes.subarray(6, 6 + len));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
}

/** Opens a WebSocket to the gateway with Host shop.test. */
function openThroughGateway(h: Harness, headers: Record<string, string> = {}): WebSocket {
  return new WebSocket(`${h.url.replace(/^http/, 'ws')}/socket`, { headers: { host: 'shop.test', ...headers } });
}

async function roundTrip(ws: WebSocket, message: string): Promise<string> {
  if (ws.readyState !== WebSocket.OPEN) await once(ws, 'open');
  const reply = new Promise<string>((resolve, reject) => {
    const onClose = (code: number): void => reject(new Error(`the socket closed (${code}) instead of answering "${message}"`));
    ws.once('close', onClose);
    ws.once('message', (data: Buffer) => {
      ws.off('close', onClose);
      resolve(String(data));
    });
  });
  ws.send(message);
  return reply;
}

/** How an upgrade through the gateway ended when it did not open: an HTTP status, or a close without one. */
function failedUpgrade(ws: WebSocket): Promise<{ status: number | undefined }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade unexpectedly succeeded')));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    ws.once('error', () => resolve({ status: undefined }));
  });
}

/** The gateway's answer to an upgrade it did not let through. */
function refusedUpgrade(ws: WebSocket): Promise<{ status: number | undefined; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade unexpectedly succeeded')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

/** The close code the client gets (1006 when the connection ended without a close frame), within `timeoutMs`. */
function closeCode(ws: WebSocket, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket was not closed within ${timeoutMs} ms`)), timeoutMs);
    ws.once('close', (code: number) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('gateway: WebSocket', () => {
  const sockets: WebSocket[] = [];
  const track = (ws: WebSocket): WebSocket => {
    ws.on('error', () => undefined);
    sockets.push(ws);
    return ws;
  };
  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  describe('routing by mode', () => {
    let n1: WsEchoUpstream;
    let n2: WsEchoUpstream;
    let h: Harness;

    before(async () => {
      n1 = await startWsEchoUpstream('n1');
      n2 = await startWsEchoUpstream('n2');
      h = await startGatewayHarness({ n1Urls: [n1.url], n2Urls: [n2.url] });
    });
    after(async () => {
      await h?.close();
      await n1?.close();
      await n2?.close();
    });

    it('reaches N1 in serve mode', async () => {
      assert.equal(await roundTrip(track(openThroughGateway(h)), 'hello'), 'n1:hello');
      assert.equal(n1.handshakes.length, 1);
      assert.equal(n2.handshakes.length, 0);
    });

    it('sends the upstream the X-Forwarded-* and Via headers the gateway sets, not the client ones', async () => {
      const before = n1.handshakes.length;
      await roundTrip(track(openThroughGateway(h, { 'x-forwarded-for': '6.6.6.6', 'x-northwest-deployment': 'n2' })), 'hi');
      const seen = n1.handshakes[before]!;
      assert.equal(seen['x-forwarded-for'], '127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'http');
      assert.equal(seen['x-forwarded-host'], 'shop.test');
      assert.equal(seen.via, '1.1 northwest');
      assert.equal(seen['x-northwest-deployment'], undefined);
      assert.equal(seen.host, 'shop.test');
      assert.equal(String(seen.upgrade).toLowerCase(), 'websocket');
      assert.ok(typeof seen['x-request-id'] === 'string' && seen['x-request-id'].length > 0);
    });

    it('reaches N2 once proxy mode is applied', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      const n1Before = n1.handshakes.length;
      assert.equal(await roundTrip(track(openThroughGateway(h)), 'after-switch'), 'n2:after-switch');
      assert.equal(n1.handshakes.length, n1Before);
      assert.equal(n2.handshakes.length, 1);
      assert.equal(n2.handshakes[0]!['x-forwarded-for'], '127.0.0.1');
    });

    it('refuses an upgrade for an unknown Host with 421 and forwards nothing', async () => {
      const before = n1.handshakes.length + n2.handshakes.length;
      const ws = track(new WebSocket(`${h.url.replace(/^http/, 'ws')}/socket`, { headers: { host: 'nowhere.test' } }));
      assert.deepEqual(await failedUpgrade(ws), { status: 421 });
      assert.equal(n1.handshakes.length + n2.handshakes.length, before);
    });

    it('passes the subprotocol the upstream chose back to the client', async () => {
      await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      const ws = track(new WebSocket(`${h.url.replace(/^http/, 'ws')}/socket`, ['chat.v2', 'chat.v1'], { headers: { host: 'shop.test' } }));
      assert.equal(await roundTrip(ws, 'p'), 'n2:p');
      assert.equal(ws.protocol, 'chat.v2');
    });
  });

  describe('upstream refusing the upgrade', () => {
    it("passes the upstream's answer on as it is (401 with its body), not a 502", async () => {
      const server = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        verifyClient: (_info, done) => done(false, 401, 'no token'),
      });
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const h = await startGatewayHarness({ n1Urls: [url], n2Urls: [url] });
      try {
        const refused = await refusedUpgrade(track(openThroughGateway(h)));
        assert.equal(refused.status, 401);
        assert.equal(refused.body, 'no token');
        assert.equal(refused.headers['x-northwest-error'], undefined);
      } finally {
        await h.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('upstream refusing connections', () => {
    let n2: WsEchoUpstream;
    let h: Harness;

    before(async () => {
      n2 = await startWsEchoUpstream('n2');
      const dead = await startRefusingPort();
      h = await startGatewayHarness({ n1Urls: [dead.url], n2Urls: [n2.url] });
    });
    after(async () => {
      await h?.close();
      await n2?.close();
    });

    it('answers the upgrade with 502 (or a close) and keeps serving', async () => {
      for (let i = 0; i < 3; i++) {
        const result = await failedUpgrade(track(openThroughGateway(h)));
        assert.ok(result.status === undefined || result.status === 502, `status ${result.status}`);
      }
      // Plain HTTP to the same dead deployment gets a typed error, not a hang or a crash.
      const plain = await call(h.url, '/x');
      assert.ok(plain.status === 502 || plain.status === 503, plain.text);
      assert.match(String(plain.headers['x-northwest-error']), /^NW_GW_(UPSTREAM_CONNECT_FAILED|NO_HEALTHY_UPSTREAM)$/);
      // And WebSockets work again as soon as traffic goes to a live deployment.
      await h.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      assert.equal(await roundTrip(track(openThroughGateway(h)), 'alive'), 'n2:alive');
    });
  });

  describe('gateway shutdown', () => {
    it('closes the upstream side of open WebSockets, not only the client side', async () => {
      const n1 = await startWsEchoUpstream('n1');
      const h = await startGatewayHarness({ n1Urls: [n1.url], n2Urls: [n1.url] });
      try {
        const ws = track(openThroughGateway(h));
        assert.equal(await roundTrip(ws, 'before-shutdown'), 'n1:before-shutdown');
        const [upstreamSide] = [...n1.server.clients];
        assert.ok(upstreamSide, 'the upstream has the connection');
        const upstreamClosed = once(upstreamSide, 'close');
        const clientClosed = closeCode(ws);
        await h.gw.close();
        assert.equal(await clientClosed, 1001, 'Going Away');
        await upstreamClosed;
        assert.equal(n1.server.clients.size, 0);
      } finally {
        await h.close();
        await n1.close();
      }
    });
  });
  describe('readiness, fence, flip and lease', () => {
    let n1: WsEchoUpstream;
    let n2: WsEchoUpstream;
    let h: Harness | undefined;

    beforeEach(async () => {
      n1 = await startWsEchoUpstream('n1');
      n2 = await startWsEchoUpstream('n2');
    });
    afterEach(async () => {
      await h?.close();
      h = undefined;
      await n1.close();
      await n2.close();
    });
    const start = async (opts: Parameters<typeof startGatewayHarness>[0] = {}): Promise<Harness> => {
      h = await startGatewayHarness({ n1Urls: [n1.url], n2Urls: [n2.url], ...opts });
      return h;
    };

    it('refuses an upgrade before the gateway has its state: 503 NW_GW_NOT_READY with Retry-After, nothing forwarded', async () => {
      const gw = await start({ config: { waitForState: true } });
      const refused = await refusedUpgrade(track(openThroughGateway(gw)));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['x-northwest-error'], 'NW_GW_NOT_READY');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(n1.handshakes.length + n2.handshakes.length, 0);
      // Once a state is applied, the same upgrade goes where it says.
      await gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      assert.equal(await roundTrip(track(openThroughGateway(gw)), 'ready'), 'n2:ready');
      assert.equal(n1.handshakes.length, 0);
    });

    it('refuses an upgrade while the app is fenced: 503 NW_GW_WEBSOCKET_FENCED with Retry-After, nothing forwarded', async () => {
      const gw = await start({ app: { fence: { retryAfterSeconds: 3 } } });
      await gw.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      const refused = await refusedUpgrade(track(openThroughGateway(gw)));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['x-northwest-error'], 'NW_GW_WEBSOCKET_FENCED');
      assert.equal(refused.headers['retry-after'], '3');
      assert.equal(n1.handshakes.length + n2.handshakes.length, 0);
      assert.equal(gw.gw.metrics.errors.get(['shop', 'NW_GW_WEBSOCKET_FENCED']), 1);
      await gw.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      assert.equal(await roundTrip(track(openThroughGateway(gw)), 'after'), 'n2:after');
    });

    it("closes a socket opened under serve with 1012 when proxy is applied; the apply returns only after N1's side closed", async () => {
      const gw = await start();
      const ws = track(openThroughGateway(gw));
      assert.equal(await roundTrip(ws, 'one'), 'n1:one');
      const [n1Side] = [...n1.server.clients];
      assert.ok(n1Side);
      assert.equal(gw.gw.metrics.websocketsOpen.get(['shop', 'n1']), 1);
      const code = closeCode(ws);
      await gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      // N1 has answered the gateway's close (it closes its side after that): the connection is over.
      assert.notEqual(n1Side.readyState, WebSocket.OPEN, "the apply returned while N1's side of the socket was still open");
      assert.equal(await code, 1012);
      await eventually(() => assert.deepEqual(n1.closeCodes, [1012]), { timeoutMs: 2000, message: 'N1 got the close frame' });
      await eventually(
        () => {
          assert.equal(gw.gw.metrics.websocketCloses.get(['shop', 'n1', 'state']), 1);
          assert.equal(gw.gw.metrics.websocketsOpen.get(['shop', 'n1']), 0);
        },
        { timeoutMs: 2000, message: 'the close was counted once both sides were closed' },
      );
      // The client reconnects and reaches the side the app is on now.
      assert.equal(await roundTrip(track(openThroughGateway(gw)), 'two'), 'n2:two');
    });

    it('closes it with 1012 on a fence too: nothing the client sends once the fence is applied reaches N1', async () => {
      const gw = await start();
      const ws = track(openThroughGateway(gw));
      assert.equal(await roundTrip(ws, 'before'), 'n1:before');
      const code = closeCode(ws);
      const applying = gw.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      ws.send('late');
      await applying;
      assert.equal(await code, 1012);
      // N1 closed its connection before the apply returned, so it has read everything it ever will.
      assert.deepEqual(n1.received, ['before']);
    });

    it('keeps a socket to N2 open across states that still allow writes to N2', async () => {
      const gw = await start();
      await gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      const ws = track(openThroughGateway(gw));
      assert.equal(await roundTrip(ws, 'a'), 'n2:a');
      let closed = false;
      ws.on('close', () => {
        closed = true;
      });
      await gw.gw.applyState('shop', { epoch: 2, mode: 'proxy', mirrorWritesToN1: true });
      await gw.gw.applyState('shop', { epoch: 3, mode: 'redirect', methods: 'safe' });
      assert.equal(await roundTrip(ws, 'b'), 'n2:b');
      assert.equal(closed, false);
      assert.deepEqual(n2.closeCodes, []);
      assert.equal(gw.gw.metrics.websocketCloses.get(['shop', 'n2', 'state']), 0);
    });

    it('under a redirect of every method: closes sockets to N2 with 1012 and answers upgrades with the redirect', async () => {
      const gw = await start();
      await gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      const ws = track(openThroughGateway(gw));
      assert.equal(await roundTrip(ws, 'a'), 'n2:a');
      const code = closeCode(ws);
      await gw.gw.applyState('shop', { epoch: 2, mode: 'redirect', status: 307 });
      assert.equal(await code, 1012);
      const refused = await refusedUpgrade(track(openThroughGateway(gw)));
      assert.equal(refused.status, 307);
      assert.equal(refused.headers.location, 'https://shop-n2.example.com/socket');
      assert.equal(n2.handshakes.length, 1);
    });

    it('refuses an upgrade the write guard (lease) refuses, and closes an open socket with 1013 at its first message after', async () => {
      let leaseValid = false;
      const writeGuard: WriteGuard = (app) =>
        leaseValid ? undefined : new GatewayError('NW_GW_LEASE_EXPIRED', app, { retryAfterSeconds: 1 });
      const gw = await start({ writeGuard });
      const refused = await refusedUpgrade(track(openThroughGateway(gw)));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['x-northwest-error'], 'NW_GW_LEASE_EXPIRED');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(n1.handshakes.length, 0);

      leaseValid = true;
      const ws = track(openThroughGateway(gw));
      assert.equal(await roundTrip(ws, 'ok'), 'n1:ok');
      leaseValid = false;
      const code = closeCode(ws);
      ws.send('after-lapse');
      assert.equal(await code, 1013);
      await eventually(() => assert.deepEqual(n1.closeCodes, [1013]), { timeoutMs: 2000, message: 'N1 got the close frame' });
      assert.deepEqual(n1.received, ['ok']);
      await eventually(() => assert.equal(gw.gw.metrics.websocketCloses.get(['shop', 'n1', 'lease']), 1), {
        timeoutMs: 2000,
        message: 'the close was counted',
      });
    });

    it('finishes the frame N1 is in the middle of before the close frame, and the apply waits until N1 closed', async () => {
      const raw = await startRawWsUpstream();
      try {
        const gw = await start({ n1Urls: [raw.url] });
        const ws = track(openThroughGateway(gw));
        const messages: string[] = [];
        ws.on('message', (data) => messages.push(String(data)));
        await once(ws, 'open');
        const upstream = await eventually(
          () => {
            const s = raw.sockets[0];
            assert.ok(s);
            return s;
          },
          { timeoutMs: 2000, message: 'the upstream has the socket' },
        );
        const text = Buffer.from('0123456789');
        // One whole frame, then the first bytes of the next one.
        upstream.write(
          Buffer.concat([Buffer.from([0x81, 5]), Buffer.from('first'), Buffer.from([0x81, text.length]), text.subarray(0, 4)]),
        );
        await eventually(() => assert.deepEqual(messages, ['first']), { timeoutMs: 2000, message: 'the client got the first frame' });

        const code = closeCode(ws);
        let settled = false;
        const applying = gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' }).finally(() => {
          settled = true;
        });
        await eventually(() => raw.ended[0] === true, { timeoutMs: 2000, message: "N1 got the gateway's FIN" });
        assert.deepEqual(decodeMaskedClose(raw.received[0]!).code, 1012);
        assert.equal(settled, false, 'the apply returned while N1 still had the connection open');
        upstream.end(text.subarray(4));
        await applying;
        assert.equal(await code, 1012);
        assert.deepEqual(messages, ['first', '0123456789']);
      } finally {
        await raw.close();
      }
    });

    it('cuts off a handshake still under way when a state forbids its deployment: 503 NW_GW_WEBSOCKET_ROUTE_CHANGED', async () => {
      const raw = await startRawWsUpstream({ holdHandshakes: true });
      try {
        const gw = await start({ n1Urls: [raw.url] });
        const ws = track(openThroughGateway(gw));
        const refusal = refusedUpgrade(ws);
        await eventually(() => raw.pendingAccepts.length === 1, { timeoutMs: 2000, message: 'N1 got the handshake' });
        // The apply does not wait for N1's answer: nothing of the client's went to N1 yet.
        await gw.gw.applyState('shop', { epoch: 1, mode: 'fence' });
        raw.pendingAccepts[0]!();
        const refused = await refusal;
        assert.equal(refused.status, 503);
        assert.equal(refused.headers['x-northwest-error'], 'NW_GW_WEBSOCKET_ROUTE_CHANGED');
        assert.equal(refused.headers['retry-after'], '1');
        await eventually(() => raw.ended[0] === true, { timeoutMs: 2000, message: 'the gateway dropped its connection to N1' });
        assert.equal(gw.gw.metrics.websocketsOpen.get(['shop', 'n1']), 0);
      } finally {
        await raw.close();
      }
    });

    it('destroys an upstream that does not close within the close timeout, and then waits out unknownWriteOutcomeMs', async () => {
      const raw = await startRawWsUpstream();
      try {
        const gw = await start({ n1Urls: [raw.url], config: { timeouts: { unknownWriteOutcomeMs: 400, drainMs: 5000 } } });
        const ws = track(openThroughGateway(gw));
        await once(ws, 'open');
        const code = closeCode(ws);
        const t0 = performance.now();
        // The raw upstream never answers the close: only the gateway's deadline ends the connection.
        await gw.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
        const took = performance.now() - t0;
        assert.equal(await code, 1012);
        // 1 s of close timeout, then the socket's last bytes may still reach N1: 400 ms more.
        assert.ok(took >= 1350, `the apply returned after ${Math.round(took)} ms`);
      } finally {
        await raw.close();
      }
    });
  });
});
