import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { startHangingServer, startSlowHeadersServer, type FaultyUpstream } from '../support/faulty-upstreams.js';
import { eventually } from '../support/eventually.js';

describe('gateway graceful shutdown', () => {
  let h: Harness | undefined;
  const upstreams: Array<FaultyUpstream | EchoUpstream> = [];
  const clients: Client[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
    await h?.close();
    h = undefined;
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
  });

  function client(url: string): Client {
    const c = new Client(url);
    clients.push(c);
    return c;
  }

  it('lets an in-flight request finish, refuses new connections and resolves close()', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await startSlowHeadersServer(300, () => arrived());
    upstreams.push(slow);
    h = await startGatewayHarness({ n1Urls: [slow.url], config: { timeouts: { shutdownMs: 10_000 } } });

    const inFlight = client(h.url)
      .request({ method: 'GET', path: '/slow', headers: { host: 'shop.test' } })
      .then(async (res) => ({ status: res.statusCode, text: await res.body.text() }));
    await requestArrived;

    let closed = false;
    const closing = h.gw.close().then(() => {
      closed = true;
    });
    assert.equal(h.gw.isReady(), false, 'not ready once shutdown starts');

    const refused = await client(h.url)
      .request({ method: 'GET', path: '/new', headers: { host: 'shop.test' } })
      .then(
        () => undefined,
        (err: Error & { code?: string }) => err,
      );
    assert.ok(refused, 'a new connection was accepted after close() started');
    assert.equal(refused.code, 'ECONNREFUSED');

    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'slow ok');
    await closing;
    assert.equal(closed, true);
    assert.equal(h.gw.pendingRequests, 0);
  });

  it('cuts a request longer than timeouts.shutdownMs and still resolves close()', async () => {
    const hanging = await startHangingServer();
    upstreams.push(hanging);
    h = await startGatewayHarness({ n1Urls: [hanging.url], config: { timeouts: { shutdownMs: 300 } } });
    const stuck = client(h.url)
      .request({ method: 'GET', path: '/forever', headers: { host: 'shop.test' } })
      .then(
        (res) => res.body.text(),
        (err: Error) => err,
      );
    await eventually(() => hanging.seen.length === 1, { timeoutMs: 5000, message: 'request reaching the upstream' });

    const started = Date.now();
    await h.gw.close();
    assert.ok(Date.now() - started < 5000, 'close() hung on the stuck request');
    const outcome = await stuck;
    assert.ok(outcome instanceof Error, `the stuck request should have been cut, got ${String(outcome)}`);
  });

  it('close() is idempotent and resolves when nothing is in flight', async () => {
    h = await startGatewayHarness();
    assert.equal((await call(h.url, '/x')).status, 200);
    const a = h.gw.close();
    const b = h.gw.close();
    assert.equal(a, b, 'close() is idempotent');
    await Promise.all([a, b]);
  });

  it(
    'refuses writes a fence holds as soon as shutdown starts, ' + 'so a fenced gateway closes without waiting out shutdownMs (regression)',
    async () => {
      // Nobody releases a held write once the gateway shuts down (a member stops following states):
      // waiting for it to drain kept the gateway, and a fleet member's session, for shutdownMs.
      h = await startGatewayHarness({ config: { timeouts: { shutdownMs: 120_000 } } });
      await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      const held = call(h.url, '/kv/k', { method: 'PUT', body: 'v' });
      await eventually(() => assert.ok(h!.gw.metrics.render().includes('northwest_gateway_held_writes{app="shop"} 1')), {
        timeoutMs: 5_000,
        message: 'the write is held',
      });
      await h.gw.close();
      const res = await held;
      assert.equal(res.status, 503);
      assert.equal(res.headers['x-northwest-error'], 'NW_GW_SHUTTING_DOWN');
      assert.equal(h.n1[0]!.seen.filter((r) => r.method === 'PUT').length, 0, 'the held write never reached N1');
      assert.equal(h.n1[0]!.store.get('k'), undefined);
    },
  );

  describe('cli', () => {
    let dir: string;
    let child: ChildProcess | undefined;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nw-cli-'));
    });

    afterEach(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      child = undefined;
      await rm(dir, { recursive: true, force: true });
    });

    function startCli(configFile: string): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', '--config', configFile], {
        cwd: process.cwd(),
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, NORTHWEST_ADMIN_TOKEN: '' },
      });
      child = proc;
      let err = '';
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = once(proc, 'exit').then(([code]) => code as number | null);
      return { proc, stderr: () => err, exited };
    }

    function poolYaml(url: string): string {
      return `    n1:\n      servers:\n        - url: ${url}\n    n2:\n      servers:\n        - url: ${url}\n`;
    }

    it('starts from a config file, prints its listeners, serves, and exits 0 on SIGTERM', async () => {
      const echo = await startEchoUpstream('n1-cli');
      upstreams.push(echo);
      const file = join(dir, 'gateway.yaml');
      await writeFile(
        file,
        `name: cli-test\nlisteners:\n  - host: 127.0.0.1\n    port: 0\nadmin:\n  host: 127.0.0.1\n  port: 0\nlog:\n  level: warn\n` +
          `apps:\n  shop:\n    hosts: [shop.test]\n${poolYaml(echo.url)}`,
      );
      const cli = startCli(file);
      let trafficUrl: string | undefined;
      await eventually(
        () => {
          if (cli.proc.exitCode !== null) throw new Error(`cli exited early (${cli.proc.exitCode}): ${cli.stderr()}`);
          trafficUrl = /traffic:\s+(http:\/\/\S+)/.exec(cli.stderr())?.[1];
          return trafficUrl !== undefined && /admin:\s+http:\/\//.test(cli.stderr());
        },
        { timeoutMs: 15_000, message: 'cli listener line on stderr' },
      );
      assert.doesNotMatch(trafficUrl!, /:0$/, 'the real port is printed, not 0');

      const res = await call(trafficUrl!, '/through-cli');
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.text).deployment, 'n1-cli');

      cli.proc.kill('SIGTERM');
      assert.equal(await cli.exited, 0, cli.stderr());
    });

    async function expectConfigRejected(body: string, fieldPath: string, mention: string): Promise<void> {
      const file = join(dir, 'broken.yaml');
      await writeFile(file, body);
      const cli = startCli(file);
      const code = await cli.exited;
      const stderr = cli.stderr();
      assert.equal(code, 2, stderr);
      assert.ok(stderr.includes(file), `stderr does not name the file:\n${stderr}`);
      assert.ok(stderr.includes(`${fieldPath}:`), `stderr does not name the field ${fieldPath}:\n${stderr}`);
      assert.ok(stderr.includes(mention), `stderr does not mention ${mention}:\n${stderr}`);
      assert.ok(stderr.includes('NW_GW_CONFIG_INVALID'), stderr);
    }

    it('exits 2 naming the file and field when a required field is missing', async () => {
      await expectConfigRejected(
        `listeners:\n  - port: 0\n` +
          `apps:\n  shop:\n    hosts: [shop.test]\n    n1: {}\n    n2:\n      servers:\n        - url: http://127.0.0.1:9\n`,
        'apps.shop.n1.servers',
        'apps.shop.n1.servers',
      );
    });

    it('exits 2 naming the file and field when a field is unknown', async () => {
      await expectConfigRejected(
        `listeners:\n  - port: 0\napps:\n  shop:\n    hosts: [shop.test]\n${poolYaml('http://127.0.0.1:9')}    retriez: 3\n`,
        'apps.shop',
        'retriez',
      );
    });
  });
});
