import type { Logger } from '../platform/logger.js';
import type { Coordinator } from '../platform/coordinator/coordinator.js';
import { layout } from '../protocol/coordinator-paths.js';

/**
 * ZooKeeper's leader recipe: each candidate creates an ephemeral sequential
 * node under /leader; the lowest is leader; every other candidate watches
 * only its predecessor (no herd effect). Losing the session loses leadership
 * at once.
 */
export class LeaderElection {
  private node: string | undefined;
  private leader = false;
  private stopped = false;

  constructor(
    private readonly c: Coordinator,
    private readonly candidateId: string,
    private readonly logger: Logger,
    private readonly onChange: (leader: boolean) => void,
  ) {}

  isLeader(): boolean {
    return this.leader && !this.stopped;
  }

  /** Joins (or re-joins after session expiry) the election. */
  async join(): Promise<void> {
    this.stopped = false;
    await this.c.mkdirp(layout.leader);
    const path = await this.c.create(`${layout.leader}/candidate-`, Buffer.from(this.candidateId), 'ephemeral-sequential');
    this.node = path.slice(path.lastIndexOf('/') + 1);
    await this.evaluate();
  }

  /** Called when the session expired: we are no longer leader and our node is gone. */
  lost(): void {
    this.node = undefined;
    this.set(false);
  }

  async resign(): Promise<void> {
    this.stopped = true;
    const node = this.node;
    this.node = undefined;
    this.set(false);
    if (node) await this.c.remove(`${layout.leader}/${node}`).catch(() => undefined);
  }

  /** Current leader's candidate id, if any. */
  async currentLeader(): Promise<string | undefined> {
    const kids = (await this.c.children(layout.leader)) ?? [];
    const first = kids.sort()[0];
    if (!first) return undefined;
    return (await this.c.get(`${layout.leader}/${first}`))?.data.toString('utf8');
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.logger.info(leader ? 'controlplane.leader.elected' : 'controlplane.leader.lost', { candidate: this.candidateId });
    this.onChange(leader);
  }

  private async evaluate(): Promise<void> {
    while (!this.stopped && this.node) {
      const kids = ((await this.c.children(layout.leader)) ?? []).sort();
      const i = kids.indexOf(this.node);
      if (i === -1) {
        this.lost();
        return;
      }
      if (i === 0) {
        this.set(true);
        return;
      }
      this.set(false);
      const predecessor = `${layout.leader}/${kids[i - 1]}`;
      const exists = await this.c.get(predecessor, () => this.reevaluate());
      if (exists) return;
    }
  }

  /**
   * Evaluates again after the predecessor's watch fired. A failure (a coordinator error) is
   * retried with a backoff: the watch is spent, so giving up would leave this candidate a
   * standby for good after the leader left, and no one would run the migrations.
   */
  private reevaluate(attempt = 0): void {
    this.evaluate().catch((err: unknown) => {
      const code = (err as { code?: unknown }).code;
      this.logger.warn('controlplane.leader.evaluate_failed', { attempt, code, err });
      if (this.stopped || !this.node) return;
      setTimeout(() => this.reevaluate(attempt + 1), Math.min(5000, 100 * 2 ** attempt)).unref();
    });
  }
}
