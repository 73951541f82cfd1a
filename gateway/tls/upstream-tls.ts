import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { UpstreamTlsConfig } from '../config/config-schema.js';
import { GatewayError } from '../errors.js';

/** The TLS options every connection to a pool's https:// servers uses (undici, the raw engine, WebSockets, http-proxy). */
export interface UpstreamTls {
  /** PEM of the CAs to trust instead of the system's. */
  readonly ca?: string;
  /** SNI and the name the certificate must cover, instead of the URL's host. */
  readonly servername?: string;
}

/** Reads a pool's CA file once at start; NW_GW_TLS_CONFIG_INVALID names the field and the file. */
export function loadUpstreamTls(config: UpstreamTlsConfig | undefined, field: string): UpstreamTls | undefined {
  if (config === undefined) return undefined;
  const out: { ca?: string; servername?: string } = {};
  if (config.serverName !== undefined) out.servername = config.serverName;
  if (config.caFile !== undefined) {
    const file = config.caFile;
    try {
      out.ca = readFileSync(file, 'utf8');
    } catch (err) {
      throw new GatewayError('NW_GW_TLS_CONFIG_INVALID', `${field}.caFile (${file}): cannot read: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      new X509Certificate(out.ca);
    } catch (err) {
      throw new GatewayError('NW_GW_TLS_CONFIG_INVALID', `${field}.caFile (${file}): not a PEM certificate: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return out;
}

/**
 * tls.connect options for a connection to `host` (an https:// server's URL host): SNI and the
 * certificate check use `servername`, else the host itself. Never the request's Host header (what
 * node:https and undici would derive it from): the app server's certificate names the server.
 * SNI carries only names (RFC 6066 §3), so an IP address host sends none and is checked as an IP.
 * ALPN http/1.1: every engine speaks HTTP/1.1 to its upstreams.
 */
export function upstreamTlsOptions(host: string, tls: UpstreamTls): ConnectionOptions {
  const servername = tls.servername ?? (isIP(host) === 0 ? host : '');
  return { servername, ...(tls.ca !== undefined ? { ca: tls.ca } : {}), ALPNProtocols: ['http/1.1'] };
}
