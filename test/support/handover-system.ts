/**
 * The system under test of the handover model: real fleet gateways
 * (startGatewayMember) on one embedded coordinator store, each behind its own
 * partitionable session; real N1 and N2 app servers that log their commits;
 * the test's control plane (HandoverDriver) on its own session; real HTTP
 * clients on loopback. Everything listens on port 0 and is closed by close().
 *
 * Client-side events that the model leaves running (the next chunk of a slow
 * body, an abort) wait for a release by fast-check's scheduler, so the
 * scheduler picks their order against the next commands and against each
 * other, and reports it on failure.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Scheduler } from 'fast-check';
import { Agent, request } from 'undici';
import { parseGatewayConfig } from '../../gateway/index.js';
import { startGatewayMember, type GatewayMember } from '../../gateway/fleet/gateway-member.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { type CommitLogApp, SequenceClock, startCommitLogApp } from './commit-log-app.js';
import { HandoverDriver } from './handover-driver.js';
import { PartitionableCoordinator } from './partitionable-coordinator.js';

export const APP = 'shop';

/**
 * Timings scaled down so a run takes a few hundred milliseconds, with the
 * margins the safety argument needs kept: lease < session timeout, and the
 * app's longest commit (MAX_COMMIT_MS, 120) inside both session − lease and
 * unknownWriteOutcomeMs, and shorter than drainMs.
 */
export const TIMING = {
  leaseMs: 100,
  reconcileMs: 25,
  /** After this long cut off, the coordinator ends a member's session. */
  sessionMs: 300,
  /** Longer than the session, as by default: a member cut off for good departs before the barrier gives up. */
  barrierMs: 400,
  drainMs: 200,
  maxHoldMs: 500,
  unknownWriteOutcomeMs: 150,
  /** Shorter than the slowest commits: a restart cuts writes whose outcome is then unknown. */
  shutdownMs: 60,
} as const;

export interface MemberSlot {
  readonly id: string;
  member: GatewayMember;
  coordinator: PartitionableCoordinator;
  url: string;
  /** Incarnation, bumped by each restart. */
  generation: number;
}

export interface ClientWrite {
  readonly writeId: string;
  readonly via: string;
  readonly kind: string;
  status?: number;
  servedBy?: string;
  /** x-northwest-error of a gateway refusal, or the client-side error. */
  error?: string;
  settled: boolean;
}

export interface WriteOptions {
  readonly kind: string;
  readonly method: 'POST' | 'PUT';
  readonly commitMs: number;
  readonly body: string | AsyncIterable<Buffer>;
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
}

export class HandoverSystem {
  readonly writes: ClientWrite[] = [];
  readonly pending = new Set<Promise<void>>();
  readonly slots: MemberSlot[] = [];
  readonly driver: HandoverDriver;
  /** Set once the commands are over: background events then go without waiting for the scheduler. */
  unscheduled = false;
  private readonly traceLines: Array<{ seq: number; line: string }> = [];
  private readonly client = new Agent({ headersTimeout: 5_000, bodyTimeout: 5_000, keepAliveTimeout: 2_000 });
  private nextWrite = 0;
  private readonly logger = createLogger('silent');

  private constructor(
    readonly scheduler: Scheduler,
    readonly clock: SequenceClock,
    readonly store: EmbeddedStore,
    private readonly cpCoordinator: EmbeddedCoordinator,
    readonly n1: CommitLogApp,
    readonly n2: CommitLogApp,
  ) {
    this.driver = new HandoverDriver({
      coordinator: cpCoordinator,
      app: APP,
      clock,
      n1Commits: n1.commits,
      barrierTimeoutMs: TIMING.barrierMs,
      trace: (line) => this.trace(line),
    });
  }

  static async start(scheduler: Scheduler, size: number): Promise<HandoverSystem> {
    const clock = new SequenceClock();
    const store = new EmbeddedStore();
    const cp = new EmbeddedCoordinator(store);
    const sys = new HandoverSystem(scheduler, clock, store, cp, await startCommitLogApp('n1', clock), await startCommitLogApp('n2', clock));
    try {
      await cp.connect();
      await sys.driver.init();
      for (let i = 0; i < size; i++) sys.slots.push(await sys.startMember(`gw-${i}`, 0));
    } catch (err) {
      await sys.close();
      throw err;
    }
    return sys;
  }

  trace(line: string): void {
    this.traceLines.push({ seq: this.clock.next(), line });
  }

  /** The last `n` trace lines, with the commits of both apps merged in by sequence. */
  traceTail(n = 200): string {
    const commits = [...this.n1.commits, ...this.n2.commits].map((c) => ({ seq: c.seq, line: `app: ${c.side} committed ${c.writeId}` }));
    const all = [...this.traceLines, ...commits].sort((a, b) => a.seq - b.seq);
    return all
      .slice(-n)
      .map((t) => `  #${t.seq} ${t.line}`)
      .join('\n');
  }

  /** Waits for the scheduler to release this event (at once once the commands are over). */
  gate(label: string): Promise<void> {
    return this.unscheduled ? Promise.resolve() : this.scheduler.schedule(Promise.resolve(), label);
  }

  slot(i: number): MemberSlot {
    return this.slots[i % this.slots.length]!;
  }

  private async startMember(id: string, generation: number): Promise<MemberSlot> {
    const config = parseGatewayConfig(
      {
        name: id,
        listeners: [{ host: '127.0.0.1', port: 0 }],
        log: { level: 'silent' },
        timeouts: {
          drainMs: TIMING.drainMs,
          unknownWriteOutcomeMs: TIMING.unknownWriteOutcomeMs,
          upstreamHeadersMs: 2_000,
          clientHeadersMs: 2_000,
          clientRequestMs: 4_000,
          shutdownMs: TIMING.shutdownMs,
        },
        fleet: { coordinator: { kind: 'embedded' }, memberId: id, leaseMs: TIMING.leaseMs, reconcileMs: TIMING.reconcileMs },
        apps: {
          [APP]: {
            hosts: [`${APP}.test`],
            n1: { servers: [{ url: this.n1.url }] },
            n2: { servers: [{ url: this.n2.url }] },
            fence: { maxHoldMs: TIMING.maxHoldMs },
          },
        },
      },
      'handover model',
    );
    const coordinator = new PartitionableCoordinator(this.store);
    const member = await startGatewayMember(config, { logger: this.logger, coordinator });
    const url = member.gateway.listeners[0]!.url;
    this.trace(`${id}: started (${generation === 0 ? 'first' : `restart ${generation}`}) at ${url}`);
    return { id, member, coordinator, url, generation };
  }

  /** Closes a member and starts it again under the same id (a process restart; its cut, if any, ends with it). */
  async restart(i: number): Promise<void> {
    const slot = this.slot(i);
    this.trace(`${slot.id}: restarting`);
    await slot.member.close();
    const next = await this.startMember(slot.id, slot.generation + 1);
    Object.assign(slot, next);
  }

  /** Starts one client write through member `i`; resolves when the client got its answer or error. */
  write(i: number, opts: WriteOptions): { write: ClientWrite; done: Promise<void> } {
    const slot = this.slot(i);
    const w: ClientWrite = { writeId: `w${++this.nextWrite}`, via: slot.id, kind: opts.kind, settled: false };
    this.writes.push(w);
    this.trace(`client: ${opts.kind} ${opts.method} ${w.writeId} via ${slot.id} (commit ${opts.commitMs} ms)`);
    const headers: Record<string, string> = { host: `${APP}.test`, 'x-model-commit-ms': String(opts.commitMs) };
    if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
    const done = (async () => {
      try {
        const res = await request(`${slot.url}/kv/${w.writeId}`, {
          dispatcher: this.client,
          method: opts.method,
          headers,
          body: typeof opts.body === 'string' ? opts.body : Readable.from(opts.body, { objectMode: false }),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        await res.body.text();
        w.status = res.statusCode;
        w.servedBy = String(res.headers['x-northwest-deployment']);
        const err = res.headers['x-northwest-error'];
        if (err !== undefined) w.error = String(err);
      } catch (err) {
        w.error = `client: ${(err as Error).name === 'AbortError' ? 'left' : ((err as { code?: string }).code ?? (err as Error).name)}`;
      } finally {
        w.settled = true;
        this.trace(`client: ${w.writeId} → ${w.status ?? '-'} ${w.servedBy ?? ''} ${w.error ?? ''}`.trimEnd());
      }
    })();
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return { write: w, done };
  }

  async read(i: number): Promise<number | string> {
    const slot = this.slot(i);
    try {
      const res = await request(`${slot.url}/kv/r`, { dispatcher: this.client, method: 'GET', headers: { host: `${APP}.test` } });
      await res.body.dump();
      return res.statusCode;
    } catch (err) {
      return `client: ${(err as { code?: string }).code ?? (err as Error).name}`;
    }
  }

  /** A body sent in `count` chunks of `chunkBytes`, each after a scheduler release and `gapMs`; aborts after `abortAfter` chunks. */
  async *slowBody(
    writeId: () => string,
    count: number,
    chunkBytes: number,
    gapMs: number,
    abortAfter: number | undefined,
    abort: () => void,
  ): AsyncGenerator<Buffer> {
    for (let k = 0; k < count; k++) {
      if (abortAfter === k) {
        await this.gate(`${writeId()}: client leaves after ${k} chunks`);
        this.trace(`client: ${writeId()} leaves mid-body`);
        abort();
        return;
      }
      await this.gate(`${writeId()}: chunk ${k + 1}/${count}`);
      await sleep(gapMs);
      yield Buffer.alloc(chunkBytes, 0x61 + (k % 26));
    }
  }

  /** True when every member has a live member node (recovered from any cut). */
  everyMemberRegistered(): boolean {
    return this.slots.every((s) => this.store.read(layout.member(s.id)) !== undefined);
  }

  async close(): Promise<void> {
    this.unscheduled = true;
    await Promise.allSettled(this.slots.map((s) => s.member.close()));
    await this.client.destroy().catch(() => undefined);
    await this.cpCoordinator.close();
    await this.n1.close();
    await this.n2.close();
  }
}
