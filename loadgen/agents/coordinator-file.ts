/**
 * The coordinator section a load agent or controller connects with, from the files the fleet
 * already has: a gateway config (`fleet.coordinator`: the members' identity, for agents), a
 * control-plane config (`coordinator`: the control plane's identity, for the controller), or a
 * file holding just the section.
 */
import {
  controlPlaneCoordinatorConfigSchema,
  createCoordinator,
  memberCoordinatorConfigSchema,
  parseConfig,
  readConfigFile,
  type Coordinator,
  type CoordinatorRole,
} from '../../platform/index.js';
import { LoadAgentError } from './load-agent-errors.js';

const fail = (detail: string, cause?: unknown): LoadAgentError =>
  new LoadAgentError('NW_LG_CONFIG_INVALID', detail, cause === undefined ? undefined : { cause });

function sectionOf(doc: unknown): { section: unknown; field: string } {
  if (typeof doc === 'object' && doc !== null) {
    const d = doc as { coordinator?: unknown; fleet?: { coordinator?: unknown } };
    if (d.coordinator !== undefined) return { section: d.coordinator, field: 'coordinator' };
    if (typeof d.fleet === 'object' && d.fleet !== null && d.fleet.coordinator !== undefined)
      return { section: d.fleet.coordinator, field: 'fleet.coordinator' };
  }
  return { section: doc, field: '' };
}

/** An unconnected coordinator client in `role` from `file`; NW_LG_CONFIG_INVALID naming the file and field. */
export function coordinatorFromFile(file: string, role: CoordinatorRole, env: NodeJS.ProcessEnv = process.env): Coordinator {
  const { section, field } = sectionOf(readConfigFile(file, fail));
  const schema = role === 'member' ? memberCoordinatorConfigSchema : controlPlaneCoordinatorConfigSchema;
  const cfg = parseConfig(schema, section, field ? `${file} (${field})` : file, fail);
  if (cfg.kind === 'embedded') {
    throw fail(`${file}: the embedded coordinator lives inside one process; load agents on other processes need ZooKeeper`);
  }
  try {
    return createCoordinator(cfg, role, env);
  } catch (err) {
    throw fail(`${file}: ${(err as Error).message}`, err);
  }
}
