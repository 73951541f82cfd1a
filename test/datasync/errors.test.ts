import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SYNC_ERRORS, SyncError } from '../../datasync/errors.js';

describe('data-sync error catalogue', () => {
  const doc = readFileSync('docs/errors.md', 'utf8');
  const section = doc.slice(doc.indexOf('# Data-sync error codes'));

  it('codes are well-formed, with a 4xx/5xx status and a message each', () => {
    for (const [code, spec] of Object.entries(SYNC_ERRORS)) {
      assert.match(code, /^NW_SYNC_[A-Z0-9_]+$/);
      assert.ok(spec.status >= 400 && spec.status < 600, code);
      assert.ok(spec.message.length > 0, code);
    }
    const messages = Object.values(SYNC_ERRORS).map((s) => s.message);
    assert.equal(new Set(messages).size, messages.length, 'every code has its own message');
  });

  it('every code is documented with its status, and the doc names no other code', () => {
    for (const [code, spec] of Object.entries(SYNC_ERRORS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row, `${code} is documented`);
      assert.match(row, new RegExp(`\\| ${spec.status} \\|`), `${code} documents status ${spec.status}`);
    }
    const documented = [...section.matchAll(/^\| `(NW_SYNC_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(
      documented.filter((c) => !(c! in SYNC_ERRORS)),
      [],
    );
  });

  it('SyncError carries code, status and details', () => {
    const e = new SyncError('NW_SYNC_SCHEMA_MISMATCH', 'ks.kv', { details: { missing: ['v'] } });
    assert.equal(e.code, 'NW_SYNC_SCHEMA_MISMATCH');
    assert.equal(e.status, 409);
    assert.match(e.message, /schema differs.*ks\.kv/);
    assert.deepEqual(e.details, { missing: ['v'] });
  });
});
