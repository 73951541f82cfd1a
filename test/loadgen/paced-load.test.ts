import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import { WORKLOADS } from '../../loadgen/bench/bench-workloads.js';
import { runPaced } from '../../loadgen/bench/paced-load.js';

describe('paced (open-loop) bench generator', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const get = WORKLOADS.find((w) => w.name === 'get-1k')!;

  it('sends every request due after the warm-up and records when each left against when it was due', async () => {
    const r = await runPaced({ baseUrl: url, workload: get, rate: 200, warmupS: 0.1, durationS: 0.5, connections: 4 });
    assert.equal(r.errors, 0);
    assert.equal(r.completed, 100, '200/s for 0.5 s after the warm-up');
    assert.equal(r.sendLateUs.count, r.completed);
    assert.equal(r.latencyUs.count, r.completed);
    // Latency from due time includes the send lateness, so it is never below the service time.
    assert.ok(r.latencyUs.max >= r.serviceUs.max);
  });

  it('shows a stall of its own event loop as requests sent late', async () => {
    const stallMs = 60;
    setTimeout(() => {
      const until = performance.now() + stallMs;
      while (performance.now() < until);
    }, 250);
    const r = await runPaced({ baseUrl: url, workload: get, rate: 200, warmupS: 0.1, durationS: 0.5, connections: 4 });
    assert.equal(r.completed, 100, 'the requests due during the stall are sent after it, not dropped');
    assert.ok(r.sendLateUs.max >= (stallMs - 10) * 1000, `max lateness ${r.sendLateUs.max} µs after a ${stallMs} ms stall`);
  });
});
