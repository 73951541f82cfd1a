import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { ControlPlaneConfigInput, MigrationPlanInput } from '../../../controlplane/index.js';
import { ChaosError } from '../chaos-errors.js';
import type { BackedStores } from './backed-stores-config.js';
import { type CampaignChild, spawnCampaignChild } from './child-process.js';
import { type CoordinatorSettings, coordinatorSection } from './campaign-coordinator.js';

const TOKEN_ENV = 'NW_CHAOS_ADMIN_TOKEN';

interface Running {
  readonly id: string;
  readonly child: CampaignChild;
  readonly adminUrl: string;
}

/**
 * The control planes: processes of control-plane-main.ts on the campaign's chroot, electing a
 * leader among themselves, with the sync hooks of the campaign's app servers. Each start is a new
 * candidate id (`cp-<n>`). Migrations are submitted through any one's admin API (a standby writes
 * them to the coordinator; the leader runs them).
 */
export class ControlPlanes {
  private readonly token = randomBytes(16).toString('hex');
  private readonly dir = mkdtempSync(join(tmpdir(), 'nw-chaos-cp-'));
  private readonly list: Running[] = [];
  private started = 0;

  /** With the Cassandra variant's stores: the file every control plane reads them from (`--stores`). */
  private readonly storesFile: string | undefined;

  constructor(
    private readonly coordinator: CoordinatorSettings,
    private readonly apps: { readonly n1: string; readonly n2: string },
    /** Each process's output goes to `<logDir>/<id>.log`. */
    private readonly logDir: string,
    stores?: BackedStores,
  ) {
    this.storesFile = stores ? join(this.dir, 'stores.json') : undefined;
    if (this.storesFile) writeFileSync(this.storesFile, JSON.stringify(stores, null, 2));
  }

  /** Ids of the control-plane processes that run. */
  live(): string[] {
    return this.list.filter((r) => r.child.running()).map((r) => r.id);
  }

  /** Starts one more control plane and waits until it has joined the election. */
  async start(): Promise<string> {
    const id = `cp-${this.started++}`;
    const config: ControlPlaneConfigInput = {
      id,
      coordinator: coordinatorSection(this.coordinator, 'controlplane'),
      admin: { host: '127.0.0.1', port: 0, tokenEnv: TOKEN_ENV },
      log: { level: 'info' },
    };
    const file = join(this.dir, `${id}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    const child = await spawnCampaignChild({
      name: id,
      script: 'loadgen/chaos/control-plane-main.ts',
      args: ['--config', file, '--n1', this.apps.n1, '--n2', this.apps.n2, ...(this.storesFile ? ['--stores', this.storesFile] : [])],
      readyPatterns: [/admin:\s+(http:\/\/\S+)/],
      env: { ...process.env, [TOKEN_ENV]: this.token },
      logFile: join(this.logDir, `${id}.log`),
    });
    this.list.push({ id, child, adminUrl: child.ready[0]! });
    return id;
  }

  /** Starts control planes until `n` run. */
  async ensure(n: number): Promise<void> {
    while (this.live().length < n) await this.start();
  }

  /** SIGKILLs the process with this id; resolves once it is gone. */
  async kill(id: string): Promise<boolean> {
    const r = this.list.find((x) => x.id === id && x.child.running());
    if (!r) return false;
    r.child.signal('SIGKILL');
    await r.child.exited;
    return true;
  }

  /** POST /migrations through the first control plane that answers. */
  async submit(plan: MigrationPlanInput): Promise<void> {
    const errors: string[] = [];
    for (const r of this.list.filter((x) => x.child.running())) {
      try {
        const res = await this.call(r, 'POST', '/migrations', plan);
        if (res.status === 201) return;
        errors.push(`${r.id}: ${res.status} ${res.text.slice(0, 300)}`);
      } catch (err) {
        errors.push(`${r.id}: ${(err as Error).message}`);
      }
    }
    throw new ChaosError('NW_CHAOS_MIGRATION_REFUSED', errors.join('; ') || 'no control plane runs');
  }

  /** Asks for a rollback (the campaign gave up waiting). */
  async abort(id: string, reason: string): Promise<void> {
    for (const r of this.list.filter((x) => x.child.running())) {
      try {
        if ((await this.call(r, 'POST', `/migrations/${id}/abort`, { reason })).status === 202) return;
      } catch {
        // the next one may answer
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list.map((r) => r.child.stop()));
  }

  private async call(r: Running, method: 'POST' | 'GET', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await request(`${r.adminUrl}${path}`, {
      method,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }
}
