/**
 * One gateway for the proxy bench, in its own process: serve mode, one app
 * whose N1 (and, unused, N2) is the bench upstream. Prints
 * {"ready":true,"url":...,"port":...} on stdout once listening and closes
 * gracefully on SIGTERM / SIGINT (so `node --cpu-prof` can write its profile).
 *
 *   gateway-process.ts --upstream http://127.0.0.1:PORT [--engine raw|undici|http-proxy]
 *                      [--tls-cert FILE --tls-key FILE [--http2]]
 *
 * With --tls-cert and --tls-key the listener terminates TLS (HTTP/1.1 on the engine, as on a
 * plain listener); --http2 offers h2 by ALPN there too (node:http2).
 *
 * BENCH_GATEWAY_ENGINE / BENCH_UPSTREAM_URL are read when the flags are absent.
 */
import { parseArgs } from 'node:util';
import { Gateway, parseGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { createLogger } from '../../platform/index.js';

type GatewayEngine = NonNullable<GatewayConfigInput['engine']>;

interface ListenerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly http2: boolean;
}

/** The gateway config the bench uses; validated by the gateway's own schema. */
function benchGatewayConfig(upstreamUrl: string, engine: GatewayEngine, tls: ListenerTls | undefined): GatewayConfigInput {
  return {
    name: `bench-${engine}`,
    listeners: [{ host: '127.0.0.1', port: 0, ...(tls === undefined ? {} : { tls }) }],
    engine,
    log: process.env.BENCH_ACCESS_LOG ? { level: 'info', access: true } : { level: 'silent', access: false },
    apps: {
      bench: {
        // autocannon sends "Host: 127.0.0.1:<port>"; the gateway matches hosts without the port.
        hosts: ['127.0.0.1', 'localhost'],
        n1: { servers: [{ url: upstreamUrl }] },
        n2: { servers: [{ url: upstreamUrl }] },
      },
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      engine: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      http2: { type: 'boolean', default: false },
    },
  });
  const upstream = values.upstream ?? process.env.BENCH_UPSTREAM_URL;
  const engine = values.engine ?? process.env.BENCH_GATEWAY_ENGINE ?? 'undici';
  if (!upstream) throw new Error('gateway-process: --upstream URL is required');
  if (engine !== 'raw' && engine !== 'undici' && engine !== 'http-proxy')
    throw new Error(`gateway-process: --engine must be raw, undici or http-proxy, got "${engine}"`);
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('gateway-process: --tls-cert and --tls-key go together');
  const tls = certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile, http2: values.http2 };
  const config = parseGatewayConfig(benchGatewayConfig(upstream, engine, tls), 'bench gateway config');
  const gw = await Gateway.start({ config, logger: createLogger(process.env.BENCH_ACCESS_LOG ? 'info' : 'silent') });
  const l = gw.listeners[0]!;
  process.stdout.write(`${JSON.stringify({ ready: true, url: l.url, port: l.port, engine })}\n`);
  const lag = process.env.BENCH_LOOP_LAG ? (await import('node:perf_hooks')).monitorEventLoopDelay({ resolution: 1 }) : undefined;
  lag?.enable();
  const stop = (): void => {
    if (lag)
      process.stderr.write(
        `event loop delay ms: p50 ${(lag.percentile(50) / 1e6).toFixed(2)} ` +
          `p99 ${(lag.percentile(99) / 1e6).toFixed(2)} max ${(lag.max / 1e6).toFixed(2)}\n`,
      );
    gw.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
