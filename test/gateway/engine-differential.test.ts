import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { RawHttpClient, type RawResponse } from '../support/raw-http-client.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';

/**
 * The raw engine and the node engine, fed the same generated request streams (random methods,
 * paths, headers, bodies, Content-Length or chunked with random chunk sizes, pipelined or one per
 * packet, split at random byte boundaries), must hand the app the same requests and the client
 * the same responses.
 */

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Headers that differ by design between two gateways or two runs. Framing too: each engine frames
 * a body its own way (undici sends a small chunked body with Content-Length, and adds
 * `content-length: 0` to a bodiless POST; the raw engine passes chunked on as chunked); the bytes
 * of the body are compared instead.
 */
const VOLATILE = new Set(['x-request-id', 'date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

function stable(headers: IncomingHttpHeaders | Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!VOLATILE.has(k) && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** An app that records what it received and answers from it: Content-Length, or chunked for paths with "chunk". */
async function startRecorder(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('latin1');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: stable(req.headers), body });
      const reply = JSON.stringify({ method: req.method, url: req.url, bytes: body.length, tail: body.slice(-16) });
      const status = req.method === 'POST' ? 201 : 200;
      if ((req.url ?? '').includes('chunk')) {
        res.writeHead(status, { 'content-type': 'application/json', 'x-app': 'rec' });
        res.write(reply.slice(0, 5));
        res.end(reply.slice(5));
      } else {
        res.writeHead(status, { 'content-type': 'application/json', 'x-app': 'rec', 'content-length': Buffer.byteLength(reply) });
        res.end(reply);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

interface GenRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  path: string;
  headers: Array<[string, string]>;
  body: string;
  chunked: boolean;
  chunkSizes: number[];
}

const token = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const requestArb: fc.Arbitrary<GenRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path: fc.tuple(token, fc.option(token), fc.boolean()).map(([a, q, chunk]) => `/${chunk ? 'chunk-' : ''}${a}${q ? `?q=${q}` : ''}`),
  headers: fc.array(fc.tuple(fc.constantFrom('x-a', 'x-b', 'accept', 'x-Mixed-Case', 'cookie'), token), { maxLength: 4 }),
  body: fc.string({ maxLength: 3000, unit: fc.constantFrom('a', 'b', '\u00e9', '\r', '\n', '0', 'z') }),
  chunked: fc.boolean(),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
});

function encode(r: GenRequest, last: boolean): Buffer {
  const body = Buffer.from(r.method === 'GET' || r.method === 'DELETE' ? '' : r.body, 'latin1');
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: shop.test\r\n`;
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  if (last) head += 'Connection: close\r\n';
  const parts: Buffer[] = [];
  if (body.length > 0 && r.chunked) {
    head += 'Transfer-Encoding: chunked\r\n\r\n';
    parts.push(Buffer.from(head, 'latin1'));
    let at = 0;
    for (let i = 0; at < body.length; i++) {
      const n = Math.min(r.chunkSizes[i % r.chunkSizes.length]!, body.length - at);
      parts.push(Buffer.from(`${n.toString(16)}\r\n`, 'latin1'), body.subarray(at, at + n), Buffer.from('\r\n'));
      at += n;
    }
    parts.push(Buffer.from('0\r\n\r\n'));
  } else {
    if (body.length > 0) head += `Content-Length: ${body.length}\r\n`;
    parts.push(Buffer.from(`${head}\r\n`, 'latin1'), body);
  }
  return Buffer.concat(parts);
}

function view(res: RawResponse): { status: number; headers: Record<string, string>; body: string } {
  return { status: res.status, headers: stable(res.headers), body: res.body };
}

describe('gateway engines: raw and node answer the same request streams the same way (fast-check)', function () {
  this.timeout(120_000);
  const engines = ['raw', 'node'] as const;
  const apps: Record<string, Awaited<ReturnType<typeof startRecorder>>> = {};
  const gateways: Record<string, Harness> = {};

  before(async () => {
    for (const e of engines) {
      apps[e] = await startRecorder();
      gateways[e] = await startGatewayHarness({ config: { engine: e }, n1Urls: [apps[e].url], n2Urls: [apps[e].url] });
    }
  });
  after(async () => {
    for (const e of engines) {
      await gateways[e]?.close();
      await new Promise<void>((r) => apps[e]?.server.close(() => r()));
    }
  });

  async function run(engine: 'raw' | 'node', stream: Buffer, splits: number[], pipelined: boolean, requests: number) {
    const from = apps[engine]!.seen.length;
    const client = new RawHttpClient(Number(new URL(gateways[engine]!.url).port));
    const conn = await client.open();
    if (pipelined) {
      const cuts = [...new Set(splits.map((s) => Math.floor(s * stream.length)))].sort((a, b) => a - b);
      let at = 0;
      for (const c of [...cuts, stream.length]) {
        if (c <= at) continue;
        conn.write(stream.subarray(at, c));
        at = c;
        await new Promise((r) => setImmediate(r));
      }
    } else {
      // One request at a time: the next goes out when the previous response is in.
      const pieces = splitRequests(stream, requests);
      for (let i = 0; i < pieces.length; i++) {
        conn.write(pieces[i]!);
        if (i < pieces.length - 1) await waitFor(() => conn.received().length > i);
      }
    }
    const result = await conn.closed;
    return { responses: result.responses.map(view), seen: apps[engine]!.seen.slice(from) };
  }

  it('the app gets the same requests and the client the same responses from both engines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArb, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        async (reqs, pipelined, splits) => {
          const stream = Buffer.concat(reqs.map((r, i) => encode(r, i === reqs.length - 1)));
          boundaries.set(
            stream,
            reqs.map((r, i) => encode(r, i === reqs.length - 1).length),
          );
          const raw = await run('raw', stream, splits, pipelined, reqs.length);
          const node = await run('node', stream, splits, pipelined, reqs.length);
          assert.equal(raw.responses.length, reqs.length, JSON.stringify(raw));
          // Pipelined requests are served concurrently (node:http dispatches them as they parse): their
          // order at the app is not defined, only the order of the responses.
          const order = (seen: Seen[]) => (pipelined ? [...seen].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : seen);
          assert.deepEqual(order(raw.seen), order(node.seen));
          assert.deepEqual(raw.responses, node.responses);
        },
      ),
      { numRuns: 60, seed: 20261205 },
    );
  });
});

/** The byte lengths of the requests in each generated stream (to send them one at a time). */
const boundaries = new WeakMap<Buffer, number[]>();

function splitRequests(stream: Buffer, count: number): Buffer[] {
  const lengths = boundaries.get(stream) ?? [stream.length];
  const out: Buffer[] = [];
  let at = 0;
  for (const n of lengths.slice(0, count)) {
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}
