import { buildConnector, type Dispatcher, Pool } from 'undici';
import { upstreamTlsOptions, type UpstreamTls } from '../tls/upstream-tls.js';

/** undici Pool options without `connect`, which is set here. */
export type PoolOptions = Omit<Pool.Options, 'connect'>;

/**
 * The undici dispatcher of one app server. For an https:// server, every connection is checked
 * with the pool's CA and server name: undici would otherwise take the SNI name (and the name the
 * certificate must cover) from each request's Host header, which names the app to its clients,
 * not the server; and it reconnects whenever that name changes between two requests. So every
 * request carries the same name (which only keeps the connection), and the connector uses the
 * configured name, or the URL's host (none as SNI for an IP address).
 */
export function upstreamDispatcher(origin: string, options: PoolOptions, connectTimeoutMs: number, tls?: UpstreamTls): Dispatcher {
  if (tls === undefined) return new Pool(origin, { ...options, connect: { timeout: connectTimeoutMs } });
  const host = new URL(origin).hostname.replace(/^\[|\]$/g, '');
  const { servername, ...rest } = upstreamTlsOptions(host, tls);
  const connect = buildConnector({ ...rest, timeout: connectTimeoutMs });
  const pool = new Pool(origin, {
    ...options,
    connect: (opts, cb) => connect({ ...opts, servername: servername || undefined }, cb),
  });
  const sameName = { servername: tls.servername ?? host };
  return pool.compose((dispatch) => (opts, handler) => dispatch(Object.assign({}, opts, sameName), handler));
}
