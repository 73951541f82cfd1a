/**
 * A child process for test/gateway/v8-pretenuring.test.ts, run with --trace-pretenuring-statistics:
 * with `--gateway` it first starts a gateway on the raw engine and closes it again;
 * then every object of one allocation site stays alive over several scavenges, the pattern after
 * which V8 tenures a site (allocates its objects in old space), and the trace says whether it did.
 */
import { startGatewayHarness } from './gateway-harness.js';

if (process.argv.includes('--gateway')) {
  const h = await startGatewayHarness({ n1Urls: ['http://127.0.0.1:9'], n2Urls: ['http://127.0.0.1:9'], config: { engine: 'raw' } });
  await h.close();
}

function make(i: number): { a: number; b: number } {
  return { a: i, b: i + 1 };
}

let keep: Array<{ a: number; b: number }> = [];
for (let i = 0; i < 1_000_000; i++) keep.push(make(i));
process.stdout.write(`kept ${keep.length}\n`);
keep = [];
