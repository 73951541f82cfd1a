/**
 * An agent's result in the coordinator: ephemeral part nodes under `results/<agent>` and the
 * manifest last, so a manifest means every part is there. Ephemeral, so the result dies with the
 * agent's session: an agent stays until the controller's end document says it has read it.
 */
import { isCoordinatorError, type Coordinator, type Watcher } from '../../platform/index.js';
import { layout } from '../../protocol/index.js';
import { agentResultSchema, type AgentResult } from './agent-result.js';
import { LoadAgentError } from './load-agent-errors.js';
import { encodeDocument, parseRunDocument } from './load-run-documents.js';
import { decodeResult, encodeResult, MANIFEST_NODE, manifestSchema, partNode, RESULT_PART_BYTES } from './result-chunks.js';

export async function publishResult(c: Coordinator, run: string, result: AgentResult, partBytes = RESULT_PART_BYTES): Promise<void> {
  const dir = layout.loadRunResult(run, result.agent);
  const { manifest, parts } = encodeResult(result, partBytes);
  try {
    for (const [i, part] of parts.entries()) await c.create(`${dir}/${partNode(i)}`, part, 'ephemeral');
    await c.create(`${dir}/${MANIFEST_NODE}`, encodeDocument(manifest), 'ephemeral');
  } catch (err) {
    if (isCoordinatorError(err, 'NW_CP_NO_NODE'))
      throw new LoadAgentError('NW_LG_RUN_ABORTED', `${dir} is gone: the controller removed the run`, { cause: err });
    throw err;
  }
}

/** True when the agent's manifest is there (its result is complete); `watch` hears the next change. */
export async function resultReady(c: Coordinator, run: string, agent: string, watch?: Watcher): Promise<boolean> {
  const names = await c.children(layout.loadRunResult(run, agent), watch);
  return names?.includes(MANIFEST_NODE) ?? false;
}

/** Reads and checks an agent's published result; NW_LG_RESULT_INVALID for anything that does not add up. */
export async function readResult(c: Coordinator, run: string, agent: string): Promise<AgentResult> {
  const dir = layout.loadRunResult(run, agent);
  const gone = (): LoadAgentError => new LoadAgentError('NW_LG_AGENT_MISSING', `${dir}: the result vanished while it was read`);
  const node = await c.get(`${dir}/${MANIFEST_NODE}`);
  if (!node) throw gone();
  const manifest = parseRunDocument(manifestSchema, `${dir}/${MANIFEST_NODE}`, node.data, 'NW_LG_RESULT_INVALID');
  const parts = await Promise.all(Array.from({ length: manifest.parts }, (_, i) => c.get(`${dir}/${partNode(i)}`)));
  const missing = parts.indexOf(undefined);
  if (missing >= 0) {
    // The manifest is written last, so a part missing beside it means the session ended under our reads.
    if ((await c.get(`${dir}/${MANIFEST_NODE}`)) === undefined) throw gone();
    throw new LoadAgentError('NW_LG_RESULT_INVALID', `${dir}: ${partNode(missing)} is missing`);
  }
  const raw = decodeResult(
    manifest,
    parts.map((p) => p!.data),
    dir,
  );
  const r = agentResultSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length === 0 ? '(root)' : i.path.join('.')}: ${i.message}`);
    throw new LoadAgentError('NW_LG_RESULT_INVALID', `${dir}: ${issues.slice(0, 5).join('; ')}`);
  }
  if (r.data.agent !== agent) throw new LoadAgentError('NW_LG_RESULT_INVALID', `${dir}: the result names agent ${r.data.agent}`);
  return r.data;
}
