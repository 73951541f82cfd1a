import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONTROL_ERRORS } from '../../controlplane/errors.js';
import { SYNC_ERRORS } from '../../datasync/errors.js';
import { GATEWAY_ERRORS } from '../../gateway/errors.js';
import { LOAD_AGENT_ERRORS } from '../../loadgen/agents/load-agent-errors.js';
import { ATTACH_ERRORS } from '../../loadgen/attach/attach-errors.js';
import { CHAOS_ERRORS } from '../../loadgen/chaos/chaos-errors.js';
import { EXPERIMENT_ERRORS } from '../../loadgen/experiments/experiment-errors.js';
import { CodedError, isCodedError, type ErrorSpec } from '../../platform/coded-error.js';
import { COORDINATOR_ERRORS, CoordinatorError, isCoordinatorError } from '../../platform/coordinator/coordinator-errors.js';

const CATALOGUES: Readonly<Record<string, { prefix: string; codes: Readonly<Record<string, ErrorSpec>> }>> = {
  gateway: { prefix: 'NW_GW_', codes: GATEWAY_ERRORS },
  coordinator: { prefix: 'NW_CP_', codes: COORDINATOR_ERRORS },
  controlplane: { prefix: 'NW_CP_', codes: CONTROL_ERRORS },
  datasync: { prefix: 'NW_SYNC_', codes: SYNC_ERRORS },
  experiments: { prefix: 'NW_EXP_', codes: EXPERIMENT_ERRORS },
  chaos: { prefix: 'NW_CHAOS_', codes: CHAOS_ERRORS },
  loadAgents: { prefix: 'NW_LG_', codes: LOAD_AGENT_ERRORS },
  attach: { prefix: 'NW_ATTACH_', codes: ATTACH_ERRORS },
};

describe('error catalogues (one coded-error base)', () => {
  it('every code has its component prefix, a 4xx/5xx status and a message', () => {
    for (const [name, { prefix, codes }] of Object.entries(CATALOGUES)) {
      for (const [code, spec] of Object.entries(codes)) {
        assert.ok(code.startsWith(prefix), `${name}: ${code} starts with ${prefix}`);
        assert.ok(spec.status >= 400 && spec.status < 600, code);
        assert.ok(spec.message.length > 0, code);
      }
    }
  });

  it('a code belongs to one catalogue, except the coordinator codes the control plane includes', () => {
    const owner = new Map<string, string>();
    for (const [name, { codes }] of Object.entries(CATALOGUES)) {
      if (name === 'controlplane') continue;
      for (const code of Object.keys(codes)) {
        assert.equal(owner.get(code), undefined, `${code} is in ${owner.get(code)} and ${name}`);
        owner.set(code, name);
      }
    }
    for (const code of Object.keys(CONTROL_ERRORS)) {
      const other = owner.get(code);
      assert.ok(other === undefined || other === 'coordinator', `${code} is in controlplane and ${other}`);
    }
    for (const [code, spec] of Object.entries(COORDINATOR_ERRORS))
      assert.deepEqual(CONTROL_ERRORS[code as keyof typeof CONTROL_ERRORS], spec);
  });

  it('every code is in docs/errors.md with its status', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    for (const { codes } of Object.values(CATALOGUES)) {
      for (const [code, spec] of Object.entries(codes)) {
        const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
        assert.ok(row, `${code} is documented`);
        assert.match(row, new RegExp(`\\| ${spec.status} \\|`), `${code} documents status ${spec.status}`);
      }
    }
  });

  it('a coordinator error is a coded error that the control plane recognises by code', () => {
    const err = new CoordinatorError('NW_CP_NO_NODE', '/apps/shop/state');
    assert.ok(err instanceof CodedError);
    assert.equal(err.status, 404);
    assert.match(err.message, /does not exist: \/apps\/shop\/state/);
    assert.ok(isCoordinatorError(err, 'NW_CP_NO_NODE'));
    assert.ok(!isCoordinatorError(err, 'NW_CP_BAD_VERSION'));
    assert.ok(isCodedError(err, 'NW_CP_NO_NODE'));
    assert.ok(!isCoordinatorError(new Error('NW_CP_NO_NODE')));
  });
});
