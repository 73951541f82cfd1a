import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { eventually, EventuallyTimeout } from './eventually.js';

describe('eventually()', () => {
  it('resolves with the value of the first try that passes, trying again after throws and false', async () => {
    let calls = 0;
    const value = await eventually(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not yet');
        if (calls === 2) return false;
        return `ready after ${calls}`;
      },
      { timeoutMs: 2000, intervalMs: 1, message: 'the third try' },
    );
    assert.equal(value, 'ready after 3');
    assert.equal(calls, 3);
  });

  it('passes at once on undefined, true and falsy values other than false, without waiting', async () => {
    for (const v of [undefined, true, 0, '', null]) {
      let calls = 0;
      const started = performance.now();
      const got = await eventually(
        () => {
          calls += 1;
          return v;
        },
        { timeoutMs: 1000, intervalMs: 500, message: String(v) },
      );
      assert.equal(got, v);
      assert.equal(calls, 1);
      assert.ok(performance.now() - started < 400, 'no pause before the first try');
    }
  });

  it('awaits async checks and retries rejections', async () => {
    let calls = 0;
    const got = await eventually(
      async () => {
        calls += 1;
        await new Promise((r) => setImmediate(r));
        assert.ok(calls >= 3, `only ${calls} calls`);
        return calls;
      },
      { timeoutMs: 2000, intervalMs: 1, message: 'three async tries' },
    );
    assert.equal(got, 3);
  });

  it('on timeout rejects with the message, the last failure as cause, and does not try again', async () => {
    let calls = 0;
    const started = performance.now();
    const err = await eventually(
      () => {
        calls += 1;
        assert.equal(calls, -1, `try ${calls}`);
      },
      { timeoutMs: 150, intervalMs: 30, message: 'calls never negative' },
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    assert.ok(err instanceof EventuallyTimeout);
    assert.match(err.message, /^calls never negative \(not within 150 ms: \d+ tries in \d+ ms\)$/);
    assert.ok(err.cause instanceof assert.AssertionError, String(err.cause));
    assert.match((err.cause as Error).message, new RegExp(`^try ${calls}\\b`), 'the cause is the last failure, not the first');
    assert.ok(calls >= 3, `${calls} tries in 150 ms at a 30 ms interval`);
    assert.ok(elapsed >= 140, `gave up after ${elapsed} ms, before the deadline`); // (less 10 ms for timer rounding)
    const after = calls;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls, after, 'no try after giving up');
  });

  it('names a false return as the cause', async () => {
    const err = await eventually(() => false, { timeoutMs: 30, message: 'never true' }).catch((e: unknown) => e);
    assert.ok(err instanceof EventuallyTimeout);
    assert.match((err.cause as Error).message, /returned false/);
  });

  it('gives up on a try that hangs past the deadline instead of hanging with it', async () => {
    const started = performance.now();
    const err = await eventually(() => new Promise<never>(() => undefined), { timeoutMs: 100, message: 'a hung check' }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof EventuallyTimeout);
    assert.match((err.cause as Error).message, /still pending at the deadline/);
    assert.ok(performance.now() - started < 1000);
  });

  it('with timeoutMs 0 tries exactly once', async () => {
    let calls = 0;
    await assert.rejects(
      eventually(
        () => {
          calls += 1;
          throw new Error('no');
        },
        { timeoutMs: 0, message: 'once' },
      ),
      EventuallyTimeout,
    );
    assert.equal(calls, 1);
  });

  it('refuses a negative or NaN timeout', async () => {
    await assert.rejects(
      eventually(() => true, { timeoutMs: -1, message: 'x' }),
      RangeError,
    );
    await assert.rejects(
      eventually(() => true, { timeoutMs: Number.NaN, message: 'x' }),
      RangeError,
    );
  });
});
