import { GatewayError } from '../errors.js';
import type { Deployment } from '../../protocol/app-state.js';
import { bufferMirroredBody } from './mirrored-body.js';
import { otherSide, poolOf, servedByHeaders, upstreamRequest, type Exchange, type ExchangeServices } from './exchange.js';
import { type SendHooks, sendToPool, writeReply, type UpstreamReply } from './undici-forwarder.js';
import { WriteOutcome } from './write-outcome.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';

function describe(r: PromiseSettledResult<UpstreamReply>): string {
  return r.status === 'fulfilled' ? String(r.value.statusCode) : ((r.reason as { code?: string }).code ?? 'error');
}

/**
 * Simultaneous execution of a write: the body is buffered (bounded), sent to
 * both deployments in parallel, and the client gets the primary's reply only
 * if both replies are of the same status class; otherwise 502 with a typed
 * code, so a client never believes a write landed that one side refused.
 * In-flight counts for both sides begin synchronously with the route lookup.
 */
export async function dualWrite(ex: Exchange, svc: ExchangeServices, primary: Deployment, hooks: SendHooks): Promise<void> {
  const route = ex.route!;
  const app = route.runtime.name;
  const secondary = otherSide(primary);
  const endPrimary = svc.inFlightWrites.begin(app, primary);
  const endSecondary = svc.inFlightWrites.begin(app, secondary);
  const primaryOutcome = new WriteOutcome(hooks);
  const secondaryOutcome = new WriteOutcome(hooks);
  try {
    const body = await bufferMirroredBody(ex, svc);
    // The lease is checked when the write is dispatched, after its body was read.
    const refused = svc.writeGuard(app, route.state);
    if (refused) throw refused;
    const upReq = upstreamRequest(ex, body);
    const [p, s] = await Promise.allSettled([
      sendToPool(poolOf(route, primary), upReq, primaryOutcome),
      sendToPool(poolOf(route, secondary), upReq, secondaryOutcome),
    ]);
    const sameClass =
      p.status === 'fulfilled' && s.status === 'fulfilled' && Math.floor(p.value.statusCode / 100) === Math.floor(s.value.statusCode / 100);
    if (s.status === 'fulfilled') await s.value.body.dump();
    if (!sameClass) {
      if (p.status === 'fulfilled') await p.value.body.dump();
      svc.metrics.mirrorFailures.inc([app]);
      const detail = `${primary}=${describe(p)} ${secondary}=${describe(s)}`;
      svc.logger.warn('gateway.mirror.partial_failure', { app, requestId: ex.requestId, method: ex.req.method, path: ex.path, detail });
      throw new GatewayError('NW_GW_MIRROR_PARTIAL_FAILURE', detail);
    }
    ex.servedBy = primary;
    await writeReply(ex.res, p.value, servedByHeaders(ex, primary, { [RESPONSE_HEADERS.mirroredTo]: secondary }));
  } finally {
    endPrimary(primaryOutcome.unknown);
    endSecondary(secondaryOutcome.unknown);
  }
}
