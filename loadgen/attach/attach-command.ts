import { relative } from 'node:path';
import { createProgress } from '../load/progress.js';
import { modesTable, operationsTable, switchoverTable } from '../report/markdown-report.js';
import { loadAttachSetup } from './attach-config.js';
import { runAttach, type AttachRunResult } from './attach-run.js';

/** Report directory when neither --out nor the config's `out` says one. */
export const defaultAttachOut = (d = new Date()): string => `results/attach-${d.toISOString().replace(/[:.]/g, '-')}`;

/** 0 if the migration is done with no failed request and no lost write, else 1. */
export function attachExitCode(r: Pick<AttachRunResult, 'log' | 'figures'>): number {
  return r.log.status === 'done' && r.figures.failedRequests === 0 && r.figures.lostWrites === 0 ? 0 : 1;
}

/**
 * `northwest-loadtest --config FILE` and `npm run experiment -- attach --config FILE`: runs attach
 * mode with progress and the migration's events on stderr, prints the switchover and operations
 * tables (Markdown) and where the reports are on stdout; returns the exit code.
 */
export async function attachCommand(file: string, outDir: string | undefined): Promise<number> {
  const setup = loadAttachSetup(file);
  const out = outDir ?? setup.config.out ?? defaultAttachOut();
  process.stderr.write(`northwest loadtest (attach): ${file}; app ${setup.config.app}; reports in ${out}\n`);
  const r = await runAttach(setup, { outDir: out, say: (line) => process.stderr.write(`${line}\n`), progress: createProgress() });
  if (r.log.status !== 'done' && r.log.error)
    process.stderr.write(`migration ${r.log.id} ${r.log.status}: ${r.log.error.code}: ${r.log.error.message}\n`);
  const modes = modesTable(r.run);
  const rel = (p: string): string => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p));
  process.stdout.write(
    [
      '',
      r.run.title,
      '',
      switchoverTable(r.run),
      '',
      operationsTable(r.run),
      '',
      ...(modes ? [modes, ''] : []),
      `chart:  ${rel(r.reports.chart)}`,
      `report: ${rel(r.reports.markdown)}`,
      `data:   ${rel(r.reports.json)}`,
      '',
    ].join('\n'),
  );
  return attachExitCode(r);
}
