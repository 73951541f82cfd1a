import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { ClientWrite } from '../invariants/evidence.js';
import type { GatewayAddress } from './http-writes.js';
import type { LoadRecorder } from './load-recorder.js';

const now = (): string => process.hrtime.bigint().toString();

export interface WsWriterOptions {
  /** Picks the gateway for each (re)connect. */
  readonly gateway: () => GatewayAddress;
  readonly host: string;
  /** Keys written: `<keyPrefix>k<n>`, n < keys. */
  readonly keyPrefix: string;
  readonly keys: number;
  /** Unique prefix of the message ids. */
  readonly idPrefix: string;
  readonly source: string;
  readonly intervalMs: number;
}

interface Pending {
  readonly id: string;
  readonly key: string;
  readonly gateway: string;
  readonly startNs: string;
}

/**
 * One long-lived WebSocket through a gateway that writes a key every `intervalMs` and reconnects
 * (through a gateway picked again) when the socket closes. A message answered `ok` is an
 * acknowledged write of the deployment the app names; one still unanswered when the socket
 * closes has an unknown outcome.
 */
export class WsWriter {
  private stopped = false;
  private n = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly loop: Promise<void>;

  constructor(
    private readonly rec: LoadRecorder,
    private readonly o: WsWriterOptions,
  ) {
    this.loop = this.run();
  }

  /** Stops writing, waits up to 2 s for outstanding answers, closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.session().catch(() => undefined);
      if (!this.stopped) await sleep(200);
    }
  }

  private record(p: Pending, outcome: ClientWrite['outcome'], status: number, more: Partial<ClientWrite> = {}, reason?: string): void {
    this.pending.delete(p.id);
    this.rec.write(
      {
        id: p.id,
        key: p.key,
        value: p.id,
        via: 'ws',
        source: this.o.source,
        gateway: p.gateway,
        startNs: p.startNs,
        endNs: now(),
        outcome,
        status,
        ...more,
      },
      reason,
    );
  }

  /** One socket's life: open, write until stopped or closed. */
  private session(): Promise<void> {
    const gateway = this.o.gateway();
    const ws = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/ws`, { headers: { host: this.o.host }, handshakeTimeout: 10_000 });
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearInterval(timer);
        for (const p of [...this.pending.values()]) this.record(p, 'unknown', 0, {}, 'ws-closed');
        resolve();
      };
      ws.on('error', () => undefined);
      ws.on('unexpected-response', (_req, res) => {
        // refused upgrade: nothing was written
        res.resume();
        ws.terminate();
      });
      ws.on('close', finish);
      ws.on('message', (data) => {
        let r: { id?: string; ok?: boolean; deployment?: string; error?: string };
        try {
          r = JSON.parse(data.toString()) as typeof r;
        } catch {
          return;
        }
        const p = r.id ? this.pending.get(r.id) : undefined;
        if (!p) return;
        if (r.ok) this.record(p, 'acked', 200, { deployment: r.deployment });
        else this.record(p, 'failed', 503, { error: r.error });
      });
      ws.on('open', () => {
        timer = setInterval(() => {
          if (this.stopped) {
            clearInterval(timer);
            void this.drainThenClose(ws);
            return;
          }
          const id = `${this.o.idPrefix}.${this.n}`;
          const key = `${this.o.keyPrefix}k${this.n % this.o.keys}`;
          this.n += 1;
          this.pending.set(id, { id, key, gateway: gateway.name, startNs: now() });
          ws.send(JSON.stringify({ id, key, value: id }));
        }, this.o.intervalMs);
      });
      if (this.stopped) ws.terminate();
    });
  }

  private async drainThenClose(ws: WebSocket): Promise<void> {
    for (let i = 0; i < 40 && this.pending.size > 0; i++) await sleep(50);
    ws.close(1000);
    setTimeout(() => ws.terminate(), 1000).unref();
  }
}
