/**
 * Debian's Chromium (installed by scripts/chromium.sh, which npm test runs) driven by
 * playwright-core: nothing is downloaded at run time. One launch for every browser test: a fresh
 * profile directory, headless, no background traffic, QUIC off (the gateway speaks TCP only).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.NW_CHROMIUM ?? '/usr/bin/chromium';

export interface HeadlessChromium {
  readonly context: BrowserContext;
  /** The profile directory: a scratch place for screenshots too; removed by close(). */
  readonly profile: string;
  close(): Promise<void>;
}

export interface LaunchOptions {
  readonly viewport: { width: number; height: number };
  /** Extra command-line switches (host resolver rules, trusted certificate keys). */
  readonly args?: readonly string[];
}

export async function launchChromium(o: LaunchOptions): Promise<HeadlessChromium> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/chromium.sh installs it (npm test runs it)`);
  const profile = mkdtempSync(join(tmpdir(), 'nw-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: o.viewport,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        ...(o.args ?? []),
      ],
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    profile,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
