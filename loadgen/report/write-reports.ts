/** Writes report.json, report.md and chart.svg for one run into a directory. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderJsonReport } from './json-report.js';
import { renderMarkdownReport } from './markdown-report.js';
import type { SwitchoverRun } from './report-model.js';
import { renderSvgChart } from './svg-chart.js';

export interface ReportPaths {
  readonly json: string;
  readonly markdown: string;
  readonly chart: string;
}

export async function writeReports(dir: string, run: SwitchoverRun): Promise<ReportPaths> {
  await mkdir(dir, { recursive: true });
  const paths: ReportPaths = { json: join(dir, 'report.json'), markdown: join(dir, 'report.md'), chart: join(dir, 'chart.svg') };
  await Promise.all([
    writeFile(paths.json, renderJsonReport(run)),
    writeFile(paths.markdown, renderMarkdownReport(run, 'chart.svg')),
    writeFile(paths.chart, renderSvgChart(run)),
  ]);
  return paths;
}
