/**
 * The response headers a gateway adds, and that clients, dashboards and our
 * load generator read: who served a request, under which state, and why it
 * failed. A gateway never accepts them from a client or an upstream.
 */
export const NW_HEADER_PREFIX = 'x-northwest-';

export const RESPONSE_HEADERS = Object.freeze({
  /** 'n1', 'n2', or 'none' when the gateway answered itself. */
  deployment: 'x-northwest-deployment',
  /** The epoch of the app state the request was routed by. */
  epoch: 'x-northwest-epoch',
  /** The mode of that state (serve, mirror, fence, proxy, redirect). */
  mode: 'x-northwest-mode',
  /** The stable error code when the gateway failed the request (docs/errors.md). */
  error: 'x-northwest-error',
  /** On a mirrored write: the other deployment that also applied it. */
  mirroredTo: 'x-northwest-mirrored-to',
  /**
   * On a mirrored write whose two outcomes differ in class (instead of mirroredTo): the deployment
   * that did not confirm it although the other did, or 'both' (neither did, with different answers).
   * The reply itself is the primary's.
   */
  mirrorDiverged: 'x-northwest-mirror-diverged',
} as const);
