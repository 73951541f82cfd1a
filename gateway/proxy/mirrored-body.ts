import { continueBody, type Exchange, type ExchangeServices } from './exchange.js';
import { bufferBody, checkDeclaredLength, declaredLength, hasBody } from './request-body.js';

/**
 * Reads a body that is held in memory (mirrored writes, mirror-mode reads), bounded by the app's
 * mirrorBodyBytes and counted against the gateway's budget: the declared length is reserved (the
 * limit for a chunked body) before anything is read, so a refusal needs no body from the client.
 */
export async function bufferMirroredBody(ex: Exchange, svc: ExchangeServices): Promise<Buffer> {
  const limit = ex.route!.runtime.config.mirrorBodyBytes;
  if (hasBody(ex.req)) {
    checkDeclaredLength(ex.req, limit);
    svc.bufferBudget.reserve(ex, declaredLength(ex.req) ?? limit);
    continueBody(ex);
  }
  const body = await bufferBody(ex.req, limit);
  svc.bufferBudget.keep(ex, body.length);
  return body;
}
