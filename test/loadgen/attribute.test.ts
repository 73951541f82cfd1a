import assert from 'node:assert/strict';
import { attribute, errorCode } from '../../loadgen/load/index.js';

describe('attribute', () => {
  const base = { start: 10, end: 25.5, op: 'read', key: 'k' } as const;

  it('takes servedBy and epoch from the gateway headers', () => {
    const s = attribute({ ...base, status: 200, headers: { 'x-northwest-deployment': 'n2', 'x-northwest-epoch': '7' } });
    assert.deepEqual(s, { start: 10, end: 25.5, latencyMs: 15.5, op: 'read', key: 'k', status: 200, servedBy: 'n2', epoch: 7 });
  });

  it("says 'unknown' and epoch null without the headers, 'none' for gateway-made replies", () => {
    const s = attribute({ ...base, status: 200, headers: { 'x-served-by': 'n1' } });
    assert.equal(s.servedBy, 'unknown');
    assert.equal(s.epoch, null);
    assert.equal(attribute({ ...base, status: 503, headers: { 'x-northwest-deployment': 'none' } }).servedBy, 'none');
    assert.equal(attribute({ ...base, status: 200, headers: { 'x-northwest-deployment': 'n3' } }).servedBy, 'unknown');
    assert.equal(attribute({ ...base, status: 200, headers: { 'x-northwest-epoch': 'x1' } }).epoch, null);
    assert.equal(attribute({ ...base, status: 200, headers: { 'x-northwest-deployment': ['n1', 'n2'] } }).servedBy, 'n1');
  });

  it('takes the mode from x-northwest-mode, and leaves out a value that is no mode name', () => {
    const s = attribute({
      ...base,
      status: 200,
      headers: { 'x-northwest-deployment': 'n2', 'x-northwest-epoch': '7', 'x-northwest-mode': 'proxy' },
    });
    assert.equal(s.mode, 'proxy');
    assert.equal('mode' in attribute({ ...base, status: 200, headers: { 'x-northwest-mode': '<script>' } }), false);
    assert.equal('mode' in attribute({ ...base, status: 200, headers: {} }), false);
  });

  it('takes the error from x-northwest-error', () => {
    const s = attribute({
      ...base,
      status: 503,
      headers: { 'x-northwest-deployment': 'none', 'x-northwest-error': 'NW_GW_FENCE_TIMEOUT' },
    });
    assert.equal(s.error, 'NW_GW_FENCE_TIMEOUT');
    assert.equal(s.status, 503);
  });

  it('takes the error from the socket error code when there is no response', () => {
    const err = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const s = attribute({ ...base, error: err });
    assert.equal(s.status, 0);
    assert.equal(s.error, 'ECONNRESET');
    assert.equal(s.servedBy, 'unknown');
    assert.equal(attribute({ ...base }).error, 'NO_RESPONSE');
    assert.equal(errorCode(new TypeError('x')), 'TypeError');
    assert.equal(errorCode(new Error('request timed out')), 'request timed out');
    assert.equal(errorCode(undefined), 'UNKNOWN_ERROR');
  });

  it('has no error field on a plain success and keeps the written value', () => {
    const s = attribute({ ...base, op: 'write', value: 'r-1', status: 200, headers: {} });
    assert.equal('error' in s, false);
    assert.equal(s.value, 'r-1');
  });

  it('never reports a negative latency', () => {
    assert.equal(attribute({ ...base, end: 5, status: 200 }).latencyMs, 0);
  });
});
