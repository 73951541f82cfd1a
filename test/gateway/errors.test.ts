import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GATEWAY_ERRORS, GatewayError, isGatewayError, type GatewayErrorCode } from '../../gateway/errors.js';

const CODES = Object.keys(GATEWAY_ERRORS) as GatewayErrorCode[];
const repoFile = (path: string): URL => new URL(`../../${path}`, import.meta.url);

describe('gateway error catalogue', () => {
  it('has stable, well-formed codes', () => {
    assert.ok(CODES.length > 0);
    for (const code of CODES) assert.match(code, /^NW_GW_[A-Z0-9_]+$/);
  });

  it('defines every code exactly once in the source (a duplicate key would silently win at runtime)', async () => {
    const source = await readFile(repoFile('gateway/errors.ts'), 'utf8');
    const defined = [...source.matchAll(/^\s*(NW_GW_[A-Z0-9_]+)\s*:/gm)].map((m) => m[1]!);
    assert.deepEqual(
      defined.filter((c, i) => defined.indexOf(c) !== i),
      [],
      'duplicated codes',
    );
    assert.deepEqual(new Set(defined), new Set(CODES));
  });

  it('gives every code a 4xx/5xx status and a distinct message', () => {
    const messages = new Map<string, string>();
    for (const code of CODES) {
      const spec = GATEWAY_ERRORS[code];
      assert.ok(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, `${code}: status ${spec.status}`);
      assert.ok(spec.message.trim().length > 0, `${code}: empty message`);
      const other = messages.get(spec.message);
      assert.equal(other, undefined, `${code} and ${other} share the message "${spec.message}"`);
      messages.set(spec.message, code);
    }
  });

  it('builds GatewayError instances carrying code, status, detail and cause', () => {
    const cause = new Error('root');
    for (const code of CODES) {
      const err = new GatewayError(code, 'detail here', { cause, retryAfterSeconds: 2 });
      assert.ok(isGatewayError(err));
      assert.equal(err.code, code);
      assert.equal(err.status, GATEWAY_ERRORS[code].status);
      assert.equal(err.message, `${GATEWAY_ERRORS[code].message}: detail here`);
      assert.equal(err.cause, cause);
      assert.equal(err.retryAfterSeconds, 2);
    }
    assert.equal(new GatewayError('NW_GW_INTERNAL').message, GATEWAY_ERRORS.NW_GW_INTERNAL.message);
    assert.equal(isGatewayError(new Error('plain')), false);
  });

  describe('docs/errors.md', () => {
    let doc: string;
    before(async () => {
      doc = await readFile(repoFile('docs/errors.md'), 'utf8');
    });

    it('documents every code in a table row with its status, meaning and action', () => {
      for (const code of CODES) {
        const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
        assert.ok(row, `${code} has no row in docs/errors.md`);
        const cells = row
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim());
        assert.equal(cells.length, 4, `${code}: expected code | status | meaning | action`);
        assert.equal(cells[1], String(GATEWAY_ERRORS[code].status), `${code}: documented status differs from the catalogue`);
        assert.ok(cells[2]!.length > 0 && cells[3]!.length > 0, `${code}: meaning or action missing`);
      }
    });

    it('documents no code that the catalogue does not have', () => {
      const documented = new Set([...doc.matchAll(/`(NW_GW_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
      const known = new Set<string>(CODES);
      assert.deepEqual(
        [...documented].filter((c) => !known.has(c)),
        [],
      );
    });
  });
});
