import { loadExperimentConfig, parseExperimentConfig, type ExperimentConfig, type ExperimentConfigInput } from './experiment-config.js';
import { ExperimentError } from './experiment-errors.js';

/** Shared by the experiment CLI and the demo: flag parsing, config overrides, exit codes. */

export const positiveInt = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new ExperimentError('NW_EXP_USAGE', `${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};
export const positive = (flag: string, v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new ExperimentError('NW_EXP_USAGE', `${flag} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};

export const timestampDir = (d = new Date()): string => `results/${d.toISOString().replace(/[:.]/g, '-')}`;

/** The config file (or, without one, `defaults` on the embedded system) with the command line's overrides. */
export function configFromArgs(
  file: string | undefined,
  overrides: { trials?: number | undefined; gateways?: number | undefined },
  defaults: ExperimentConfigInput = {},
): ExperimentConfig {
  const base = file ? loadExperimentConfig(file) : parseExperimentConfig(defaults, '<default>');
  return {
    ...base,
    ...(overrides.trials === undefined ? {} : { trials: overrides.trials }),
    ...(overrides.gateways === undefined ? {} : { gateways: overrides.gateways }),
  };
}

/** Runs a CLI entry point: usage and config errors exit 2 with the message, anything else exits 1. */
export function runCli(name: string, usage: string, entry: () => Promise<number>): void {
  entry().then(
    (code) => process.exit(code),
    (err: unknown) => {
      const usageError = err instanceof ExperimentError && (err.code === 'NW_EXP_USAGE' || err.code === 'NW_EXP_CONFIG_INVALID');
      const parseError = err instanceof TypeError && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
      if (usageError || parseError) {
        const code = err instanceof ExperimentError ? `${err.code}: ` : '';
        const usageText = err instanceof ExperimentError && err.code === 'NW_EXP_CONFIG_INVALID' ? '' : `\n${usage}\n`;
        process.stderr.write(`${name}: ${code}${(err as Error).message}\n${usageText}`);
        process.exit(2);
      }
      // A failure with a code of ours (a refused plan, an unreachable admin API) is said in one line.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('NW_')) process.stderr.write(`${name}: ${code}: ${(err as Error).message}\n`);
      else process.stderr.write(`${name}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
