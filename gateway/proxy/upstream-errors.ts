import { GatewayError } from '../errors.js';

interface CodedError {
  code?: string;
  name?: string;
}

/**
 * OpenSSL's verdicts on an https:// server's certificate (node passes them on as the error code).
 * A certificate is only checked in the handshake, so no request was sent on that connection.
 * Other TLS errors (alerts, bad records) can come after a request went out: they are resets.
 */
const CERTIFICATE_REFUSED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether the request certainly never reached the upstream app, so a retry elsewhere is safe. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as CodedError | undefined)?.code;
  return (
    (code !== undefined && CERTIFICATE_REFUSED.has(code)) ||
    code === 'ECONNREFUSED' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'EADDRNOTAVAIL' ||
    code === 'ENOTFOUND'
  );
}

/** Maps an undici / node socket error to our typed error. */
export function toUpstreamError(err: unknown, origin: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = (err ?? {}) as CodedError;
  const detail = `${origin} (${e.code ?? e.name ?? 'error'})`;
  switch (e.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new GatewayError('NW_GW_UPSTREAM_CONNECT_TIMEOUT', detail, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new GatewayError('NW_GW_UPSTREAM_HEADERS_TIMEOUT', detail, { cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
      return new GatewayError('NW_GW_UPSTREAM_IDLE_TIMEOUT', detail, { cause: err });
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return new GatewayError('NW_GW_UPSTREAM_RESET', detail, { cause: err });
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
      return new GatewayError('NW_GW_UPSTREAM_PROTOCOL', detail, { cause: err });
    default:
      // undici's HTTPParserError (an invalid status line or header from the app) carries no code.
      if (e.name === 'HTTPParserError') return new GatewayError('NW_GW_UPSTREAM_PROTOCOL', detail, { cause: err });
      if (isConnectFailure(err)) return new GatewayError('NW_GW_UPSTREAM_CONNECT_FAILED', detail, { cause: err });
      if (typeof e.code === 'string' && e.code.startsWith('HPE_'))
        return new GatewayError('NW_GW_UPSTREAM_PROTOCOL', detail, { cause: err });
      return new GatewayError('NW_GW_UPSTREAM_RESET', detail, { cause: err });
  }
}
