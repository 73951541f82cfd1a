// The raw engine's reply on an HTTP/2 stream (gateway/raw/h2-reply.ts), on a real node:http2
// server: a reply to a request whose body was read to its end is ended only once its writes have
// called back.
import assert from 'node:assert/strict';
import { connect, createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { H2Reply } from '../../gateway/raw/h2-reply.js';
import { RawRequest } from '../../gateway/raw/raw-request.js';

describe('H2Reply', () => {
  let server: Http2Server;
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('ends the stream after its last write called back: node never destroys it under a write (no ERR_STREAM_DESTROYED)', async () => {
    const endErrors: Error[] = [];
    server = createServer();
    server.on('stream', (stream: ServerHttp2Stream, headers, _flags, rawHeaders: string[]) => {
      stream.on('error', () => undefined);
      // What the stream's end reports: an error when node destroyed the stream before the end's write called back.
      const end = stream.end.bind(stream) as (...args: unknown[]) => ServerHttp2Stream;
      const record = (err?: Error | null): void => void (err && endErrors.push(err));
      stream.end = ((...args: unknown[]) => {
        const given = args.filter((a) => a !== undefined);
        return given.some((a) => typeof a === 'function') ? end(...given) : end(...given, record);
      }) as typeof stream.end;
      const flow = { pause: () => stream.pause(), resume: () => stream.resume() };
      const req = new RawRequest('POST', '/', 0, rawHeaders, true, flow, { headers, bodyFollows: true });
      const reply = new H2Reply(stream, req, { sendMs: 0, handOver: () => undefined });
      stream.on('data', () => undefined);
      stream.on('end', () => {
        req.endBody();
        // As an upstream call gives it: the head, the body in one piece, the end, all in one turn.
        reply.writeHead(200, ['content-length', '100'], 'length');
        reply.write(Buffer.alloc(100, 'r'));
        reply.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const bodies = await Promise.all(
        Array.from(
          { length: 50 },
          () =>
            new Promise<number>((resolve, reject) => {
              const s = session.request({ ':method': 'POST', ':path': '/' });
              let n = 0;
              s.on('data', (c: Buffer) => {
                n += c.length;
              });
              s.on('end', () => resolve(n));
              s.on('error', reject);
              s.end(Buffer.alloc(4096, 'q'));
            }),
        ),
      );
      assert.deepEqual(new Set(bodies), new Set([100]));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        endErrors.map((e) => (e as Error & { code?: string }).code),
        [],
      );
    } finally {
      session.close();
    }
  });
});
