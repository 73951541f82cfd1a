import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { startRefusingPort } from '../support/faulty-upstreams.js';

/** A WebSocket echo server standing in for one deployment: replies "<name>:<message>". */
interface WsEchoUpstream {
  readonly url: string;
  /** Handshake headers of every connection it accepted, oldest first. */
  readonly handshakes: IncomingHttpHeaders[];
  readonly server: WebSocketServer;
  close(): Promise<void>;
}

async function startWsEchoUpstream(name: string): Promise<WsEchoUpstream> {
  const handshakes: IncomingHttpHeaders[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => {
    handshakes.push({ ...req.headers });
    ws.on('message', (data) => ws.send(`${name}:${String(data)}`));
  });
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handshakes,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}

/** Opens a WebSocket to the gateway with Host shop.test. */
function openThroughGateway(h: Harness, headers: Record<string, string> = {}): WebSocket {
  return new WebSocket(`${h.url.replace(/^http/, 'ws')}/socket`, { headers: { host: 'shop.test', ...headers } });
}

async function roundTrip(ws: WebSocket, message: string): Promise<string> {
  if (ws.readyState !== WebSocket.OPEN) await once(ws, 'open');
  const reply = once(ws, 'message');
  ws.send(message);
  const [data] = (await reply) as [Buffer];
  return String(data);
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
        const clientClosed = once(ws, 'close');
        await h.gw.close();
        await clientClosed;
        await upstreamClosed;
        assert.equal(n1.server.clients.size, 0);
      } finally {
        await h.close();
        await n1.close();
      }
    });
  });
});
