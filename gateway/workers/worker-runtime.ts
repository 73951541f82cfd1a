import type { Socket } from 'node:net';
import { gatewayConfigSchema } from '../config/config-schema.js';
import { refuseAckOnDivergence } from '../fleet/divergence-ack-guard.js';
import { leaseWriteGuard } from '../fleet/lease-write-guard.js';
import { Gateway } from '../gateway.js';
import { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { installLastResortHandlers } from '../../platform/last-resort-handlers.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { monotonicNowMs } from './monotonic-clock.js';
import { primaryMessageSchema, toWire, type PrimaryMessage, type WorkerMessage } from './worker-messages.js';

type InitMessage = Extract<PrimaryMessage, { t: 'init' }>;

/** The IPC channel to the primary (this process was forked with one). */
interface Channel {
  send(message: WorkerMessage, callback?: (err: Error | null) => void): boolean;
}

/**
 * One worker of a multi-worker gateway: a whole Gateway whose listeners take the connections the
 * primary accepted, whose states and config come from the primary, and whose write guard is the
 * primary's lease. It is given no connection before it said `serving`, which it says only once the
 * states the primary sent at init are applied: a restarted worker never serves by a default state.
 */
export class WorkerRuntime {
  private gateway: Gateway | undefined;
  private lease: CoordinatorLease | undefined;
  private initialised: Promise<void> | undefined;
  private readonly acceptors = new Map<number, (socket: Socket) => void>();
  private logger: Logger = createLogger('info', { component: 'gateway-worker', pid: process.pid });
  private exiting = false;

  constructor(private readonly channel: Channel) {}

  /** Listens to the primary; signals are the primary's to act on. */
  run(): void {
    // SIGINT and SIGTERM reach the whole process group from a terminal or a service manager: the
    // primary drains the node in order (stop following states, drain the workers, leave the fleet),
    // so a worker only acts on what the primary says. A SIGHUP would end it by default.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
    process.on('message', (raw: unknown, handle: unknown) => this.receive(raw, handle));
    // The primary is gone (crashed or killed): its lease is no longer renewed, so writes stop within
    // it anyway; drain what is in flight and leave.
    process.once('disconnect', () => void this.exit(0));
    this.channel.send({ t: 'hello' });
  }

  private receive(raw: unknown, handle: unknown): void {
    const parsed = primaryMessageSchema.safeParse(raw);
    if (!parsed.success) {
      (handle as Socket | undefined)?.destroy?.();
      this.logger.error('gateway.worker.bad_message', { code: 'NW_GW_INTERNAL', message: parsed.error.message });
      return;
    }
    const msg = parsed.data;
    switch (msg.t) {
      case 'init':
        this.initialised = this.init(msg);
        return;
      case 'lease':
        // At once, not behind an apply that drains: a revocation must not wait.
        this.setLease(msg.confirmedAt);
        return;
      case 'connection': {
        const socket = handle as Socket | undefined;
        const accept = this.acceptors.get(msg.listener);
        if (socket === undefined) return;
        if (accept === undefined || this.exiting) return void socket.destroy();
        accept(socket);
        return;
      }
      default: {
        // After init, in the order they came: the states of an apply sent after init go on top of init's.
        const started = this.initialised ?? Promise.reject(new Error(`${msg.t} before init`));
        void started.then(
          () => this.handle(msg),
          (err: unknown) => ('id' in msg ? this.reply(msg.id, undefined, err) : undefined),
        );
      }
    }
  }

  private setLease(confirmedAt: number | null): void {
    const lease = this.lease;
    if (lease === undefined) return;
    // The primary's lease exactly: dropped, then (if held) confirmed as of the primary's instant.
    lease.revoke();
    if (confirmedAt !== null) lease.confirm(confirmedAt);
  }

  private async init(msg: InitMessage): Promise<void> {
    try {
      const config = gatewayConfigSchema.parse(msg.config);
      this.logger = createLogger(config.log.level, { component: 'gateway', gateway: config.name, worker: msg.worker });
      installLastResortHandlers(
        this.logger,
        { unhandledRejection: 'NW_GW_UNHANDLED_REJECTION', uncaughtException: 'NW_GW_UNCAUGHT_EXCEPTION' },
        () => this.gateway?.metrics.errors.inc(['-', 'NW_GW_UNHANDLED_REJECTION']),
      );
      if (config.fleet) {
        this.lease = new CoordinatorLease(config.fleet.leaseMs, monotonicNowMs);
        this.setLease(msg.leaseConfirmedAt);
      }
      const lease = this.lease;
      const gateway = await Gateway.start({
        config,
        logger: this.logger,
        workerId: msg.worker,
        tlsTicketKeys: Buffer.from(msg.ticketKeys, 'base64'),
        ...(lease ? { writeGuard: leaseWriteGuard(lease) } : {}),
        acceptFrom: (index, accept) => {
          this.acceptors.set(index, accept);
          const address = msg.listeners[index];
          if (address === undefined) throw new Error(`the primary sent no address for listener ${index}`);
          return address;
        },
      });
      this.gateway = gateway;
      // The node's states before any connection: a worker restarted mid-migration holds a fenced
      // write as its siblings do instead of sending it to N1 by the built-in default.
      if (Object.keys(msg.states).length > 0) await gateway.applyStates(msg.states);
      for (const app of msg.ready) gateway.markReady(app);
      this.channel.send({ t: 'serving' });
    } catch (err) {
      this.logger.error('gateway.worker.init_failed', { err });
      this.channel.send({ t: 'init-failed', error: toWire(err) }, () => process.exit(1));
      throw err;
    }
  }

  private async handle(msg: Exclude<PrimaryMessage, { t: 'init' | 'lease' | 'connection' }>): Promise<void> {
    const gw = this.gateway;
    if (gw === undefined) return;
    switch (msg.t) {
      case 'ready':
        for (const app of msg.apps) gw.markReady(app);
        return;
      case 'apply':
        return this.answer(msg.id, async () => {
          const result = await gw.applyStates(msg.states);
          if (msg.forAck) for (const app of Object.keys(msg.states)) refuseAckOnDivergence(gw, app, this.logger);
          return result;
        });
      case 'reload':
        return this.answer(msg.id, () => gw.reload(gatewayConfigSchema.parse(msg.config), '<primary>'));
      case 'writes-ended':
        return this.answer(msg.id, () => gw.appWritesEnded(msg.apps, msg.timeoutMs));
      case 'metrics':
        return this.answer(msg.id, async () => gw.metrics.render());
      case 'shutdown':
        return this.answer(
          msg.id,
          async () => {
            this.exiting = true;
            await gw.close();
            // As a single fleet member keeps its session: a write cut at the deadline may still commit
            // for unknownWriteOutcomeMs, and the primary must not leave the fleet before that.
            if (msg.graceMs !== null) return gw.writesEnded(msg.graceMs);
            return true;
          },
          () => process.exit(0),
        );
    }
  }

  private async answer(id: number, work: () => Promise<unknown>, then?: () => void): Promise<void> {
    try {
      this.reply(id, await work(), undefined, then);
    } catch (err) {
      this.reply(id, undefined, err, then);
    }
  }

  /** Sends the answer to request `id`; `then` once it was written to the channel (or could not be). */
  private reply(id: number, value: unknown, err?: unknown, then?: () => void): void {
    try {
      this.channel.send(err === undefined ? { t: 'reply', id, value } : { t: 'reply', id, error: toWire(err) }, () => then?.());
    } catch {
      // The channel closed (the primary is gone): 'disconnect' ends this worker.
      then?.();
    }
  }

  private async exit(code: number): Promise<void> {
    if (this.exiting && this.gateway === undefined) process.exit(code);
    this.exiting = true;
    await this.gateway?.close().catch(() => undefined);
    process.exit(code);
  }
}
