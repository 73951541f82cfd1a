// wrk as the proxy bench's saturation generator: its --latency report read into the bench's
// LoadResult (fixed samples of real wrk 4.1 output), the Lua script that makes it send a workload's
// exact method, headers and body bytes, and one real 1 s run against a node:http server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'mocha';
import type { Workload } from '../../loadgen/bench/bench-workloads.js';
import { ensureDebianTool } from '../../loadgen/bench/debian-tool.js';
import {
  luaString,
  openWrk,
  parseWrkOutput,
  parseWrkVersion,
  renderWrkScript,
  runWrk,
  type WrkGenerator,
  wrkSeconds,
  wrkVersion,
} from '../../loadgen/bench/wrk-run.js';

/** `wrk -t1 -c10 -d1s --latency` against a node:http server answering 200 (wrk debian/4.1.0-3+b2). */
const OK_REPORT = `Running 1s test @ http://127.0.0.1:33621/get
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   349.58us    1.68ms  24.08ms   97.39%
    Req/Sec   102.60k    32.90k  120.76k    90.00%
  Latency Distribution
     50%   76.00us
     75%  108.00us
     90%  186.00us
     99%    9.71ms
  101707 requests in 1.00s, 13.29MB read
Requests/sec: 101608.54
Transfer/sec:     13.28MB
`;

/** The same against a server answering 500, with the socket-error line wrk prints before the non-2xx one. */
const FAILING_REPORT = `Running 1s test @ http://127.0.0.1:33621/bad
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   129.73us  255.47us    1.20s   96.93%
    Req/Sec   106.43k    20.53k  116.47k    90.91%
  Latency Distribution
     50%    0.90ms
     75%   93.00us
     90%  153.00us
     99%    1.50s
  116133 requests in 1.10m, 17.28MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 116133
Requests/sec: 105672.48
Transfer/sec:     15.72MB
`;

describe('wrk-run', () => {
  describe('parseWrkOutput', () => {
    it('reads completed requests, the real duration, and latency from the thread stats and the distribution (µs)', () => {
      const r = parseWrkOutput(OK_REPORT);
      assert.deepEqual([r.completed, r.durationS, r.rps, r.errors, r.timeouts, r.non2xx], [101707, 1, 101707, 0, 0, 0]);
      const { p999, ...rest } = r.latencyUs;
      assert.deepEqual(rest, { count: 101707, mean: 350, p50: 76, p90: 186, p99: 9710, max: 24080 });
      assert.ok(Number.isNaN(p999), 'wrk gives no p99.9');
    });

    it('counts socket errors and timeouts as errors (as autocannon does), non-2xx apart, in every unit wrk prints', () => {
      const r = parseWrkOutput(FAILING_REPORT);
      assert.deepEqual([r.completed, r.durationS, r.errors, r.timeouts, r.non2xx], [116133, 66, 10, 4, 116133]);
      assert.equal(r.rps, 116133 / 66);
      assert.deepEqual([r.latencyUs.p50, r.latencyUs.p99, r.latencyUs.max], [900, 1_500_000, 1_200_000]);
    });

    it('throws, quoting the output, when there is no report or no latency distribution', () => {
      assert.throws(
        () => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'),
        /wrk: no "N requests in T" line; its output began:\nunable to connect to 127\.0\.0\.1:1/,
      );
      const noLatency = OK_REPORT.replace(/ {2}Latency Distribution[\s\S]*?(?= {2}101707)/, '');
      assert.throws(() => parseWrkOutput(noLatency), /no latency p50, p90, p99 \(was --latency given\?\)[\s\S]*Running 1s test/);
    });

    it('gives NaN latencies, not an error, for a run that completed nothing', () => {
      const r = parseWrkOutput(
        'Running 1s test @ http://x/\n  0 requests in 1.00s, 0.00B read\n  Socket errors: connect 10, read 0, write 0, timeout 0\n',
      );
      assert.deepEqual([r.completed, r.errors, r.rps], [0, 10, 0]);
      assert.ok(Number.isNaN(r.latencyUs.p99));
    });
  });

  it('runs whole seconds, rounded up', () => {
    assert.deepEqual([0.5, 2, 2.1].map(wrkSeconds), [1, 2, 3]);
  });

  it('reads the version from the first line of wrk -v', () => {
    assert.equal(
      parseWrkVersion('wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage: wrk <options> <url>\n'),
      'debian/4.1.0-3+b2',
    );
    assert.equal(parseWrkVersion('something else'), 'unknown');
  });

  it('writes Lua strings with quotes, backslashes, control and non-ASCII bytes escaped', () => {
    assert.equal(luaString('a"b\\c\nd\u00e9'), '"a\\034b\\092c\\010d\\195\\169"');
    const script = renderWrkScript(
      { name: 'post-4k', label: 'x', method: 'POST', path: '/p', headers: { 'x-a': 'v"1' }, body: Buffer.from('b') },
      '/tmp/dir "q"/post-4k.body',
    );
    assert.match(script, /^wrk\.method = "POST"$/m);
    assert.match(script, /^wrk\.headers\["x-a"\] = "v\\0341"$/m);
    assert.match(script, /^local f = assert\(io\.open\("\/tmp\/dir \\034q\\034\/post-4k\.body", "rb"\)\)$/m);
  });

  describe('a real run', function () {
    this.timeout(30_000);
    // Every byte value, so a text-mode read or a lost NUL would change it.
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    const workload: Workload = {
      name: 'post-4k',
      label: 'POST 4 KB',
      method: 'POST',
      path: '/post',
      headers: { 'content-type': 'application/octet-stream', 'x-odd': 'a"b\\c' },
      body,
    };
    let server: Server;
    let wrk: WrkGenerator;
    let served = 0;
    let wrong = 0;

    before(async () => {
      const bin = ensureDebianTool('wrk', 'wrk', (line) => process.stderr.write(`${line}\n`));
      wrk = openWrk(bin, await wrkVersion(bin));
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const ok =
            req.method === 'POST' &&
            req.url === '/post' &&
            req.headers['x-odd'] === 'a"b\\c' &&
            req.headers['content-type'] === 'application/octet-stream' &&
            Buffer.concat(chunks).equals(body);
          served++;
          if (!ok) wrong++;
          res.statusCode = ok ? 200 : 400;
          res.end('ok');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      wrk?.remove();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("sends the workload's exact method, headers and body bytes, and reports what it completed", async () => {
      const { port } = server.address() as AddressInfo;
      assert.match(wrk.version, /\d/);
      const r = await runWrk({ baseUrl: `http://127.0.0.1:${port}`, workload, connections: 2, durationS: 0.5, wrk });
      assert.equal(wrong, 0, 'every request the server saw matched the workload');
      assert.deepEqual([r.errors, r.non2xx], [0, 0]);
      assert.ok(r.completed > 0 && r.completed <= served, `completed ${r.completed}, served ${served}`);
      assert.ok(r.durationS >= 0.95 && r.durationS < 3, `0.5 s runs as 1 s, took ${r.durationS}`);
      assert.ok(Math.abs(r.rps - r.completed / r.durationS) < 1e-6);
      assert.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.p99 && r.latencyUs.p99 <= r.latencyUs.max);
      assert.equal(wrk.scriptFor(workload), wrk.scriptFor(workload), 'one script per workload and run');
    });

    it('throws with the command and what wrk said when it cannot run', async () => {
      const dead: Workload = { ...workload, method: 'GET', headers: {}, body: undefined };
      await assert.rejects(
        runWrk({ baseUrl: 'http://127.0.0.1:1', workload: dead, connections: 1, durationS: 1, wrk }),
        /wrk -t1 -c1 -d1s --latency .*http:\/\/127\.0\.0\.1:1\/post exited with 1[\s\S]*unable to connect/,
      );
    });
  });
});
