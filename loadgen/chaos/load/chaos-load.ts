import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '../../load/index.js';
import { LoadRecorder } from './load-recorder.js';
import { type GatewayAddress, sendRead, sendWrite } from './http-writes.js';
import { WsWriter } from './ws-writer.js';

export interface LoadSpec {
  /** The gateways (all of them, running or not: clients do not know). */
  readonly gateways: readonly GatewayAddress[];
  readonly host: string;
  /** Every key starts with it (the app's prefix in the app servers). */
  readonly keyPrefix: string;
  /** Unique per migration and campaign: request ids start with it. */
  readonly idPrefix: string;
  readonly seed: number;
  readonly writers: number;
  readonly readers: number;
  readonly webSockets: number;
  /** Keys shared by the writers, so writes to one key overlap. */
  readonly keys: number;
}

/**
 * The load of one migration, through the gateways: closed-loop writers and readers, one client
 * that keeps leaving mid-request, one that keeps sending slow bodies, long-lived WebSockets that
 * write; plus the bursts the client faults ask for. Every write is recorded with its outcome.
 */
export class ChaosLoad {
  readonly rec = new LoadRecorder();
  private stopped = false;
  private readonly rng: () => number;
  private readonly tasks = new Set<Promise<void>>();
  private readonly sockets: WsWriter[] = [];
  private seq = 0;

  constructor(private readonly spec: LoadSpec) {
    this.rng = mulberry32(spec.seed);
    for (let w = 0; w < spec.writers; w++) this.loop(() => this.write(`writer${w}`), 5);
    for (let r = 0; r < spec.readers; r++) this.loop(() => sendRead(this.rec, this.gateway(), spec.host, this.key()), 10);
    this.loop(() => this.write('abort', { abortAfterMs: Math.floor(this.rng() * 60) }), 150);
    this.loop(() => this.write('slow-body', { trickle: { chunks: 4, overMs: 200 + Math.floor(this.rng() * 1500) } }), 100);
    for (let s = 0; s < spec.webSockets; s++) this.sockets.push(this.socket(`ws${s}`, 100));
  }

  /** `count` writes whose clients leave after up to `maxAfterMs`. */
  abortBurst(count: number, maxAfterMs: number): Promise<void> {
    return this.track(
      Promise.all(
        Array.from({ length: count }, () => this.write('abort-burst', { abortAfterMs: Math.floor(this.rng() * maxAfterMs) })),
      ).then(() => undefined),
    );
  }

  /** `count` writes whose bodies arrive over `overMs`. */
  slowBodyBurst(count: number, overMs: number): Promise<void> {
    return this.track(
      Promise.all(Array.from({ length: count }, () => this.write('slow-burst', { trickle: { chunks: 5, overMs } }))).then(() => undefined),
    );
  }

  /** `count` more WebSockets writing every 50 ms for `holdMs`. */
  webSocketBurst(count: number, holdMs: number): Promise<void> {
    const sockets = Array.from({ length: count }, () => this.socket('ws-burst', 50));
    return this.track(sleep(holdMs).then(() => Promise.all(sockets.map((s) => s.stop())).then(() => undefined)));
  }

  /** Stops every loop and waits for what is in flight (bursts too). */
  async stop(): Promise<LoadRecorder> {
    this.stopped = true;
    await Promise.all(this.sockets.map((s) => s.stop()));
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
    return this.rec;
  }

  private gateway(): GatewayAddress {
    const g = this.spec.gateways;
    return g[Math.floor(this.rng() * g.length)]!;
  }

  private key(): string {
    return `${this.spec.keyPrefix}k${Math.floor(this.rng() * this.spec.keys)}`;
  }

  private write(source: string, more: { abortAfterMs?: number; trickle?: { chunks: number; overMs: number } } = {}): Promise<void> {
    const id = `${this.spec.idPrefix}.${source}.${this.seq++}`;
    return sendWrite(this.rec, { gateway: this.gateway(), host: this.spec.host, key: this.key(), id, source, ...more });
  }

  private socket(source: string, intervalMs: number): WsWriter {
    const name = `${source}.${this.seq++}`;
    return new WsWriter(this.rec, {
      gateway: () => this.gateway(),
      host: this.spec.host,
      keyPrefix: `${this.spec.keyPrefix}${name}.`,
      keys: 8,
      idPrefix: `${this.spec.idPrefix}.${name}`,
      source,
      intervalMs,
    });
  }

  private loop(step: () => Promise<void>, thinkMs: number): void {
    this.track(
      (async () => {
        while (!this.stopped) {
          await step();
          await sleep(thinkMs);
        }
      })(),
    );
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.finally(() => this.tasks.delete(t));
    this.tasks.add(t);
    return t;
  }
}
