import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONTROL_ERRORS, ControlError } from '../../controlplane/errors.js';

describe('control-plane error catalogue', () => {
  const doc = readFileSync('docs/errors.md', 'utf8');
  const section = doc.slice(doc.indexOf('# Control-plane error codes'));

  it('codes are well-formed, with a 4xx/5xx status and a message each', () => {
    for (const [code, spec] of Object.entries(CONTROL_ERRORS)) {
      assert.match(code, /^NW_CP_[A-Z0-9_]+$/);
      assert.ok(spec.status >= 400 && spec.status < 600, code);
      assert.ok(spec.message.length > 0, code);
    }
    const messages = Object.values(CONTROL_ERRORS).map((s) => s.message);
    assert.equal(new Set(messages).size, messages.length, 'every code has its own message');
  });

  it('every code is documented with its status, and the doc names no other code', () => {
    for (const [code, spec] of Object.entries(CONTROL_ERRORS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row, `${code} is documented`);
      assert.match(row, new RegExp(`\\| ${spec.status} \\|`), `${code} documents status ${spec.status}`);
    }
    const documented = [...section.matchAll(/^\| `(NW_CP_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(
      documented.filter((c) => !(c! in CONTROL_ERRORS)),
      [],
    );
  });

  it('ControlError carries code, status and details', () => {
    const e = new ControlError('NW_CP_APP_BUSY', 'shop', { details: { app: 'shop' } });
    assert.equal(e.code, 'NW_CP_APP_BUSY');
    assert.equal(e.status, 409);
    assert.match(e.message, /already part of a migration.*shop/);
    assert.deepEqual(e.details, { app: 'shop' });
  });
});
