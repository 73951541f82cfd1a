import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';

/**
 * Cuts a client response whose client has not taken any of it for `ms`. While
 * the client does not read, the upstream reply is paused, and a paused undici
 * body has no timeout of its own: without this, a client that never reads pins
 * an upstream connection for good. Destroying the response is what releases
 * it: a read is aborted upstream, a write's reply is read to its end and dropped.
 */
export function cutStalledResponse(res: ServerResponse, ms: number): void {
  if (!res.destroyed) res.destroy(new GatewayError('NW_GW_CLIENT_SEND_TIMEOUT', `nothing taken for ${ms} ms`));
}

/**
 * The send timeout for a reply piped from `source` (stream.pipeline, http-proxy):
 * the pipe pauses the source while the client's buffer is full and resumes it
 * on drain, so the timer runs from a pause to the next resume. On timeout the
 * source is destroyed too (a pipe does not do that when its destination goes).
 * Returns the function that stops watching. `ms` 0: no timeout.
 */
export function watchSendStall(source: Readable, res: ServerResponse, ms: number): () => void {
  if (ms <= 0) return noop;
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    timer = undefined;
    cutStalledResponse(res, ms);
    source.destroy();
  };
  const arm = (): void => {
    timer ??= setTimeout(fire, ms);
  };
  const disarm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  source.on('pause', arm);
  source.on('resume', disarm);
  return () => {
    disarm();
    source.off('pause', arm);
    source.off('resume', disarm);
  };
}

function noop(): void {}
