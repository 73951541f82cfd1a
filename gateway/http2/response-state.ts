import { Http2ServerResponse } from 'node:http2';

/**
 * `destroyed` and `errored` on node's HTTP/2 compatibility response, as on node:http's
 * ServerResponse: the request handler checks them (has the client gone, was the reply cut), and
 * the compatibility API's response has neither at run time (its typings say it is a Writable; it
 * is not), so here they are its stream's. Node's own class gets them, once, where it lacks them:
 * a subclass passed as the server's Http2ServerResponse made V8 (Node 24) abort every compile of
 * its constructor and of node's onServerStream ("dependency change"), so the hot path of every
 * h2 request stayed unoptimized and the compiler kept retrying it (a few µs of CPU per request).
 */
export function addResponseState(): void {
  const proto = Http2ServerResponse.prototype;
  if (!('destroyed' in proto))
    Object.defineProperty(proto, 'destroyed', {
      configurable: true,
      get(this: Http2ServerResponse): boolean {
        return this.stream.destroyed;
      },
    });
  if (!('errored' in proto))
    Object.defineProperty(proto, 'errored', {
      configurable: true,
      get(this: Http2ServerResponse): Error | null {
        return this.stream.errored;
      },
    });
}
