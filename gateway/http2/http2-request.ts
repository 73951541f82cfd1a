import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/** A request that came over HTTP/2 (the compatibility API's request, passed on as an IncomingMessage). */
export function isHttp2(req: Pick<IncomingMessage, 'httpVersionMajor'>): boolean {
  return req.httpVersionMajor === 2;
}

/** Whether DATA frames follow an HTTP/2 request's HEADERS (its stream was not ended with them). */
export function http2BodyFollows(req: IncomingMessage): boolean {
  return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
}
