import type { Deployment } from '../../protocol/app-state.js';
import { bufferMirroredBody } from './mirrored-body.js';
import type { HeaderMap } from './forward-headers.js';
import { otherSide, poolOf, servedByHeaders, upstreamRequest, type Exchange, type ExchangeServices } from './exchange.js';
import { divergedSide, failedToExecute } from './mirror-outcome.js';
import { type SendHooks, sendToPool, writeReply, type UpstreamReply } from './undici-forwarder.js';
import { WriteOutcome } from './write-outcome.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';

/** One side's outcome for the log: its status, or the typed error it failed with. */
function describe(r: PromiseSettledResult<UpstreamReply>): string | number {
  return r.status === 'fulfilled' ? r.value.statusCode : ((r.reason as { code?: string }).code ?? 'error');
}

/**
 * Simultaneous execution of a write: the body is buffered (bounded) and sent
 * to both deployments in parallel. The client always gets the primary's
 * outcome (its reply, or the typed error it failed with): the primary is the
 * side whose state is authoritative in this mode, so a client is told a write
 * succeeded exactly when it landed there, and is never told "failed" for a
 * write the primary committed (it would retry it: a duplicate).
 *
 * When the two outcomes differ in class (2xx against 5xx or a reset, …) the
 * write diverged: counted in northwest_gateway_mirror_divergences_total, logged
 * as NW_GW_MIRROR_DIVERGED with the request id, marked on the reply
 * (x-northwest-mirror-diverged). One side failing (5xx, no reply) a write the
 * other confirmed is also recorded per app, so that a fleet member does not
 * ack the fence that would hand writes to a side that failed some.
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
    const upReq = { ...upstreamRequest(ex, body), sendGuard: () => svc.writeGuard(app, route.state) };
    const [p, s] = await Promise.allSettled([
      sendToPool(poolOf(route, primary), upReq, primaryOutcome),
      sendToPool(poolOf(route, secondary), upReq, secondaryOutcome),
    ]);
    // The secondary's body is not the client's: read it away without holding up the reply (it cannot reject).
    const drained = s.status === 'fulfilled' ? s.value.body.dump().catch(() => undefined) : undefined;
    const diverged = divergedSide(primary, secondary, p, s);
    if (diverged !== undefined) {
      svc.metrics.mirrorDivergences.inc([app, diverged]);
      const unconfirmed = diverged === primary ? p : diverged === secondary ? s : undefined;
      if (unconfirmed !== undefined && failedToExecute(unconfirmed)) svc.mirrorDivergences.record(app, diverged);
      svc.logger.warn('gateway.mirror.diverged', {
        code: 'NW_GW_MIRROR_DIVERGED',
        app,
        requestId: ex.requestId,
        method: ex.req.method,
        path: ex.path,
        primary,
        side: diverged,
        [primary]: describe(p),
        [secondary]: describe(s),
      });
    }
    if (p.status === 'rejected') throw p.reason;
    ex.servedBy = primary;
    const marker: HeaderMap =
      diverged === undefined ? { [RESPONSE_HEADERS.mirroredTo]: secondary } : { [RESPONSE_HEADERS.mirrorDiverged]: diverged };
    await writeReply(ex.res, p.value, servedByHeaders(ex, primary, marker), ex);
    await drained;
  } finally {
    endPrimary(primaryOutcome.unknown);
    endSecondary(secondaryOutcome.unknown);
  }
}
