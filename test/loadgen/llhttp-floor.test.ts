// The proxy bench's llhttp floor (loadgen/bench/llhttp-floor-proxy.ts), started as the bench starts
// it (bundled, plain node), in front of an upstream that records what reached it: bodies arrive
// intact both ways, heads are rewritten as documented, keep-alive and pipelining work, and a
// malformed head closes the connection with nothing sent upstream.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'mocha';
import { startLlhttpFloor } from '../../loadgen/bench/bench-targets.js';
import { ChildRegistry } from '../../loadgen/bench/child-processes.js';
import { eventually } from '../support/eventually.js';
import { RawHttpClient, type RawConnection, type RawResponse } from '../support/raw-http-client.js';

/** One request as the upstream received it. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Lower-cased names of every header line, in order. */
  readonly names: readonly string[];
  readonly body: Buffer;
  /** Which upstream connection it came on (order of acceptance). */
  readonly connection: number;
}

/** One connection the upstream accepted: bytes that reached it and whether it is gone. */
interface Accepted {
  bytes: number;
  closed: boolean;
}

const GET_BODY = randomBytes(512).toString('hex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: floor.test\r\n${extra}\r\n`;
const post = (path: string, body: Buffer, extra = ''): Buffer =>
  Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: floor.test\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);

describe('proxy bench: the llhttp floor', function () {
  this.timeout(30_000);
  const registry = new ChildRegistry();
  const seen: Seen[] = [];
  const accepted: Accepted[] = [];
  const connectionOf = new WeakMap<Socket, number>();
  let upstream: Server;
  let client: RawHttpClient;
  let floorPort = 0;

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const names = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        const connection = connectionOf.get(req.socket) ?? -1;
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, names, body, connection });
        // node:http adds Connection and Keep-Alive itself; these two more must not reach the client either.
        res.setHeader('proxy-connection', 'keep-alive');
        res.setHeader('upgrade', 'h2c');
        res.setHeader('x-path', req.url ?? '');
        if (req.url === '/chunked') {
          res.write('hello ');
          res.end('world');
          return;
        }
        const reply = req.method === 'POST' ? JSON.stringify({ received: body.length }) : GET_BODY;
        res.setHeader('content-length', Buffer.byteLength(reply));
        res.end(req.method === 'HEAD' ? undefined : reply);
      });
    });
    upstream.on('connection', (s: Socket) => {
      const a: Accepted = { bytes: 0, closed: false };
      connectionOf.set(s, accepted.length);
      accepted.push(a);
      s.on('data', (c: Buffer) => {
        a.bytes += c.length;
      });
      s.once('close', () => {
        a.closed = true;
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const floor = await startLlhttpFloor(registry, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    floorPort = floor.port;
    client = new RawHttpClient(floorPort);
  });
  afterEach(() => client.destroyAll());
  after(async () => {
    await registry.stopAll();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  async function responses(conn: RawConnection, n: number): Promise<RawResponse[]> {
    return eventually(
      () => {
        const r = conn.received();
        assert.equal(r.length, n);
        return r;
      },
      { timeoutMs: 5000, message: `${n} response(s) through the floor` },
    );
  }

  function assertCleanReply(r: RawResponse, path: string): void {
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-path'], path, 'replies come in the order of the requests');
    assert.equal(r.headers.via, '1.1 llhttp-floor');
    assert.equal(r.headers.connection, 'keep-alive', "the floor's own Connection line only, not the upstream's");
    for (const name of ['keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding'])
      assert.equal(r.headers[name], undefined, `${name} from the upstream is dropped`);
  }

  it('passes a GET reply (1 KB) intact, with Via added and the upstream hop-by-hop headers dropped', async () => {
    const conn = await client.open();
    conn.write(get('/get'));
    const [r] = await responses(conn, 1);
    assertCleanReply(r!, '/get');
    assert.equal(r!.headers['content-length'], '1024');
    assert.equal(r!.body, GET_BODY);
  });

  it('delivers a 4 KB POST body intact, X-Forwarded-For, Via and X-Request-Id added, client hop-by-hop headers dropped', async () => {
    const body = randomBytes(4096);
    const conn = await client.open();
    const hop = 'Connection: close, TE\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\n';
    conn.write(post('/post', body, `Content-Type: application/octet-stream\r\n${hop}`));
    const [r] = await responses(conn, 1);
    assertCleanReply(r!, '/post');
    assert.equal(r!.body, '{"received":4096}');
    const up = seen.find((s) => s.url === '/post')!;
    assert.equal(up.method, 'POST');
    assert.ok(up.body.equals(body), 'the body the upstream read is the one sent');
    assert.equal(up.headers['content-length'], '4096');
    assert.equal(up.headers['content-type'], 'application/octet-stream');
    assert.equal(up.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(up.headers.via, '1.1 llhttp-floor');
    assert.match(String(up.headers['x-request-id']), UUID);
    for (const name of HOP_BY_HOP) assert.ok(!up.names.includes(name), `the upstream saw no ${name} line`);
  });

  it('serves two requests on one keep-alive connection, over one upstream connection', async () => {
    const conn = await client.open();
    conn.write(get('/one'));
    await responses(conn, 1);
    conn.write(post('/two', Buffer.alloc(100, 'y')));
    const [one, two] = await responses(conn, 2);
    assertCleanReply(one!, '/one');
    assertCleanReply(two!, '/two');
    assert.equal(two!.body, '{"received":100}');
    const [a, b] = [seen.find((s) => s.url === '/one')!, seen.find((s) => s.url === '/two')!];
    assert.equal(a.connection, b.connection);
  });

  it('answers pipelined requests (one write: GET, POST 4 KB, GET) in order', async () => {
    const body = randomBytes(4096);
    const conn = await client.open();
    conn.write(Buffer.concat([Buffer.from(get('/p1')), post('/p2', body), Buffer.from(get('/p3'))]));
    const rs = await responses(conn, 3);
    for (const [i, r] of rs.entries()) assertCleanReply(r, `/p${i + 1}`);
    assert.deepEqual(
      rs.map((r) => r.body),
      [GET_BODY, '{"received":4096}', GET_BODY],
    );
    assert.ok(seen.find((s) => s.url === '/p2')!.body.equals(body));
  });

  it('finds the end of a head whose blank line is split across two reads, the body in the second', async () => {
    const head = 'POST /split HTTP/1.1\r\nHost: floor.test\r\nContent-Length: 5\r\n\r\n';
    for (const cut of [1, 2, 3]) {
      const conn = await client.open();
      conn.socket.setNoDelay(true);
      const at = head.length - 4 + cut;
      conn.write(head.slice(0, at));
      // Two segments, two reads at the floor (nothing to wait on: the floor answers nothing before the body).
      await sleep(50);
      conn.write(`${head.slice(at)}hello`);
      const [r] = await responses(conn, 1);
      assert.equal(r!.body, '{"received":5}', `blank line cut after ${cut} byte(s)`);
      assert.equal(seen.at(-1)!.body.toString(), 'hello');
    }
  });

  it('forwards a head of more than 32 headers (llhttp hands them over in parts) whole', async () => {
    let extra = '';
    for (let i = 0; i < 40; i++) extra += `X-H${i}: v${i}\r\n`;
    const path = `/many?${'q'.repeat(300)}`;
    const conn = await client.open();
    conn.write(get(path, extra));
    await responses(conn, 1);
    const up = seen.find((s) => s.url === path)!;
    for (let i = 0; i < 40; i++) assert.equal(up.headers[`x-h${i}`], `v${i}`);
    assert.equal(up.headers.host, 'floor.test');
    assert.equal(up.headers.via, '1.1 llhttp-floor');
  });

  it('expects no body after the reply to a HEAD, and goes on with the next request', async () => {
    const socket = connect(floorPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    try {
      socket.write(`HEAD /head HTTP/1.1\r\nHost: floor.test\r\n\r\n${get('/after-head')}`);
      const text = await eventually(
        () => {
          const t = Buffer.concat(chunks).toString('latin1');
          assert.ok(t.endsWith(GET_BODY), 'the GET reply after the HEAD reply');
          return t;
        },
        { timeoutMs: 5000, message: 'HEAD and GET replies' },
      );
      const [headReply, rest] = [text.slice(0, text.indexOf('\r\n\r\n') + 4), text.slice(text.indexOf('\r\n\r\n') + 4)];
      assert.match(headReply, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(headReply, /\r\ncontent-length: 1024\r\n/);
      assert.match(rest, /^HTTP\/1\.1 200 OK\r\n(?:.+\r\n)*x-path: \/after-head\r\n(?:.+\r\n)*\r\n[0-9a-f]{1024}$/);
    } finally {
      socket.destroy();
    }
  });

  it('passes a chunked reply through with connection: close, and closes after it', async () => {
    const conn = await client.open();
    conn.write(get('/chunked'));
    const result = await conn.closed;
    assert.equal(result.responses.length, 1);
    const r = result.responses[0]!;
    assert.equal(r.body, 'hello world');
    assert.equal(r.headers['transfer-encoding'], 'chunked', 'the framing the bytes carry');
    assert.equal(r.headers.connection, 'close');
    assert.equal(r.headers.via, '1.1 llhttp-floor');
  });

  /**
   * Sends `payload` on a connection that has just served a request (so the floor's upstream
   * connection is up: bytes it wrote would arrive, not die in a connect queue); returns what came
   * back after that request's reply and the bytes that reached the upstream after it.
   */
  async function refused(payload: string): Promise<{ raw: string; upstreamBytes: number }> {
    const first = accepted.length;
    const conn = await client.open();
    conn.write(get('/warm'));
    const [warm] = await responses(conn, 1);
    const mine = accepted.slice(first);
    assert.equal(mine.length, 1, 'one upstream connection for this client');
    const bytesBefore = mine[0]!.bytes;
    const seenBefore = seen.length;
    const replyBytes = warm!.body.length;
    conn.write(payload);
    const result = await conn.closed;
    // Once the floor's upstream connection is gone, all it carried has arrived.
    await eventually(() => mine[0]!.closed, { timeoutMs: 5000, message: "the floor's upstream connection closed" });
    assert.equal(seen.length, seenBefore, 'no request reached the upstream');
    const afterWarm = result.raw.slice(result.raw.indexOf('\r\n\r\n') + 4 + replyBytes);
    return { raw: afterWarm, upstreamBytes: mine[0]!.bytes - bytesBefore };
  }

  it('closes the connection on a malformed head, and nothing reaches the upstream', async () => {
    const malformed = {
      'two Content-Length lines': 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'bare LF line ends': 'GET / HTTP/1.1\nHost: a\n\n',
      'Content-Length with Transfer-Encoding':
        'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    };
    for (const [what, payload] of Object.entries(malformed)) {
      const { raw, upstreamBytes } = await refused(payload);
      assert.equal(raw, '', `${what}: no reply, the connection closed`);
      assert.equal(upstreamBytes, 0, `${what}: no byte reached the upstream`);
    }
  });

  it('answers a chunked request body 501 and closes, with nothing sent upstream', async () => {
    const { raw, upstreamBytes } = await refused(
      'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 501 Not Implemented\r\n/);
    assert.equal(upstreamBytes, 0);
  });
});
