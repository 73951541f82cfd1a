import assert from 'node:assert/strict';
import { newRequestId, requestIdFor } from '../../gateway/proxy/request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('are version-4 UUIDs, none repeated over several batches of random bytes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = newRequestId();
      assert.match(id, UUID_V4);
      seen.add(id);
    }
    assert.equal(seen.size, 20_000);
  });

  it('spread over every hex digit in the random positions (not a fixed or short-cycled pattern)', () => {
    const digits = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of newRequestId().slice(0, 8)) digits.add(c);
    assert.equal(digits.size, 16);
  });

  it("keep a trusted proxy's well-formed X-Request-ID, and make a new one for anyone else's or a malformed one", () => {
    assert.equal(requestIdFor({ 'x-request-id': 'edge-123' }, true), 'edge-123');
    assert.match(requestIdFor({ 'x-request-id': 'edge-123' }, false), UUID_V4);
    assert.match(requestIdFor({ 'x-request-id': 'bad id\r\n' }, true), UUID_V4);
    assert.match(requestIdFor({}, true), UUID_V4);
  });
});
