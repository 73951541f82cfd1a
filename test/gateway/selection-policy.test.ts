import assert from 'node:assert/strict';
import { LeastInFlightPolicy, RoundRobinPolicy } from '../../gateway/upstream/selection-policy.js';
import { UpstreamServer } from '../../gateway/upstream/upstream-server.js';

const NOW = 1_000_000;
const NONE: ReadonlySet<UpstreamServer> = new Set();

describe('upstream selection policies', () => {
  const made: UpstreamServer[] = [];
  /** Servers are never contacted: undici pools connect lazily. */
  function server(name: string, weight = 1): UpstreamServer {
    const s = new UpstreamServer(`http://${name}.invalid:80`, weight, {
      connectTimeoutMs: 100,
      headersTimeoutMs: 100,
      idleTimeoutMs: 100,
      connections: 1,
      pipelining: 1,
    });
    made.push(s);
    return s;
  }
  function counts(picks: Array<UpstreamServer | undefined>): Map<string, number> {
    const m = new Map<string, number>();
    for (const p of picks) m.set(p?.origin ?? 'none', (m.get(p?.origin ?? 'none') ?? 0) + 1);
    return m;
  }

  after(async () => {
    await Promise.all(made.splice(0).map((s) => s.close()));
  });

  describe('RoundRobinPolicy', () => {
    it('spreads selections in proportion to weights', () => {
      const a = server('a', 3);
      const b = server('b', 1);
      const policy = new RoundRobinPolicy([a, b]);
      const picks = Array.from({ length: 40 }, () => policy.select([a, b], NONE, NOW));
      const c = counts(picks);
      assert.equal(c.get(a.origin), 30);
      assert.equal(c.get(b.origin), 10);
    });

    it('visits every server in turn with equal weights', () => {
      const servers = [server('x'), server('y'), server('z')];
      const policy = new RoundRobinPolicy(servers);
      const picks = Array.from({ length: 6 }, () => policy.select(servers, NONE, NOW)?.origin);
      assert.deepEqual(
        picks,
        [...servers, ...servers].map((s) => s.origin),
      );
    });

    it('skips servers that are actively unhealthy, passively ejected or excluded', () => {
      const a = server('a');
      const b = server('b');
      const c = server('c');
      const policy = new RoundRobinPolicy([a, b, c]);
      a.activeHealthy = false;
      b.ejectedUntil = NOW + 1;
      for (let i = 0; i < 4; i++) assert.equal(policy.select([a, b, c], NONE, NOW), c);
      assert.equal(policy.select([a, b, c], new Set([c]), NOW), undefined, 'nothing left');
      assert.equal(policy.select([a, b, c], new Set([c]), NOW + 1), b, 'the ejection ends at ejectedUntil');
    });

    it('returns undefined when every server is unavailable', () => {
      const a = server('a');
      const policy = new RoundRobinPolicy([a]);
      a.activeHealthy = false;
      assert.equal(policy.select([a], NONE, NOW), undefined);
    });
  });

  describe('LeastInFlightPolicy', () => {
    const policy = new LeastInFlightPolicy();

    it('picks the server with the fewest in-flight requests', () => {
      const [a, b, c] = [server('a'), server('b'), server('c')];
      a.inFlight = 5;
      b.inFlight = 2;
      c.inFlight = 3;
      assert.equal(policy.select([a, b, c], NONE, NOW), b);
      b.inFlight = 9;
      assert.equal(policy.select([a, b, c], NONE, NOW), c);
    });

    it('weighs load by server weight and breaks ties in list order', () => {
      const big = server('big', 4);
      const small = server('small', 1);
      big.inFlight = 4;
      small.inFlight = 2;
      assert.equal(policy.select([small, big], NONE, NOW), big, '4/4 is less loaded than 2/1');
      small.inFlight = 1;
      assert.equal(policy.select([small, big], NONE, NOW), small, 'a tie goes to the earlier server');
      assert.equal(policy.select([big, small], NONE, NOW), big);
    });

    it('skips unavailable and excluded servers', () => {
      const [a, b, c] = [server('a'), server('b'), server('c')];
      b.inFlight = 1;
      c.inFlight = 2;
      a.activeHealthy = false;
      assert.equal(policy.select([a, b, c], NONE, NOW), b);
      assert.equal(policy.select([a, b, c], new Set([b]), NOW), c);
      c.ejectedUntil = NOW + 10;
      assert.equal(policy.select([a, b, c], new Set([b]), NOW), undefined);
    });
  });
});
