import { createHash, type Hash } from 'node:crypto';
import type { Deployment } from '../../protocol/app-state.js';
import { bufferMirroredBody } from './mirrored-body.js';
import { hasBody } from './request-body.js';
import { otherSide, poolOf, servedByHeaders, upstreamRequest, type Exchange, type ExchangeServices } from './exchange.js';
import { sendToPool, writeReply, type UpstreamReply, type UpstreamRequest } from './undici-forwarder.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';

/**
 * The shadow side's status and body hash, or 'error' if it could not be had.
 * Never rejects: nobody may be waiting for it (the primary failed over, or its
 * reply failed first), and an unobserved rejection would end the process.
 */
async function shadowOutcome(pool: UpstreamPool, req: UpstreamRequest): Promise<string> {
  try {
    const reply = await sendToPool(pool, req);
    const h = createHash('sha256');
    for await (const chunk of reply.body as AsyncIterable<Buffer>) h.update(chunk);
    return `${reply.statusCode}:${h.digest('hex')}`;
  } catch {
    return 'error';
  }
}

/**
 * A read in mirror mode: sent to `first`; on a connection error or a 5xx it
 * falls back to the other deployment (the better of the two replies wins).
 * With `shadow`, the other side also gets the read, and status + body hash
 * are compared; a mismatch is counted and logged with the request id.
 */
export async function readWithFallback(ex: Exchange, svc: ExchangeServices, first: Deployment, shadow: boolean): Promise<void> {
  const route = ex.route!;
  const app = route.runtime.name;
  const second = otherSide(first);
  const body = hasBody(ex.req) ? await bufferMirroredBody(ex, svc) : null;
  const upReq = upstreamRequest(ex, body);

  const shadowHash = shadow ? shadowOutcome(poolOf(route, second), upReq) : undefined;

  let served: Deployment = first;
  let reply: UpstreamReply | undefined;
  try {
    reply = await sendToPool(poolOf(route, first), upReq);
  } catch (err) {
    svc.metrics.readFallbacks.inc([app]);
    served = second;
    try {
      reply = await sendToPool(poolOf(route, second), upReq);
    } catch {
      throw err;
    }
  }
  if (reply.statusCode >= 500 && served === first) {
    svc.metrics.readFallbacks.inc([app]);
    try {
      const alt = await sendToPool(poolOf(route, second), upReq);
      if (alt.statusCode < 500) {
        await reply.body.dump();
        reply = alt;
        served = second;
      } else {
        await alt.body.dump();
      }
    } catch {
      // keep the first reply: a 5xx from the primary beats a connection error
    }
  }

  let primaryHash: Hash | undefined;
  if (shadowHash && served === first) {
    primaryHash = createHash('sha256');
    const h = primaryHash;
    reply.body.on('data', (chunk: Buffer) => h.update(chunk));
  }
  ex.servedBy = served;
  const status = reply.statusCode;
  await writeReply(ex.res, reply, servedByHeaders(ex, served), ex);
  if (shadowHash && primaryHash) {
    const mine = `${status}:${primaryHash.digest('hex')}`;
    const theirs = await shadowHash;
    if (mine !== theirs) {
      svc.metrics.mirrorMismatch.inc([app]);
      svc.logger.warn('gateway.shadow.mismatch', { app, requestId: ex.requestId, path: ex.path, [first]: mine, [second]: theirs });
    }
  }
}
