import { request } from 'undici';
import type { HealthCheckConfig } from '../config/config-schema.js';
import type { UpstreamServer } from './upstream-server.js';

/**
 * Active health checks for one server: GET `path` every `intervalMs`; a 2xx
 * counts as a pass. `unhealthyThreshold` failures in a row take the server out,
 * `healthyThreshold` passes in a row bring it back.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private passes = 0;
  private fails = 0;
  private running = false;

  constructor(
    private readonly server: UpstreamServer,
    private readonly cfg: HealthCheckConfig,
    private readonly onChange: (server: UpstreamServer, healthy: boolean) => void = () => undefined,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkOnce(), this.cfg.intervalMs);
    this.timer.unref();
    void this.checkOnce();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs one probe and updates the server's health; returns whether it passed. */
  async checkOnce(): Promise<boolean> {
    if (this.running) return this.server.activeHealthy;
    this.running = true;
    let ok = false;
    try {
      const res = await request(this.server.origin + this.cfg.path, {
        method: 'GET',
        dispatcher: this.server.dispatcher,
        headersTimeout: this.cfg.timeoutMs,
        bodyTimeout: this.cfg.timeoutMs,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
      await res.body.dump();
      ok = res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      ok = false;
    } finally {
      this.running = false;
    }
    if (ok) {
      this.fails = 0;
      this.passes += 1;
      if (!this.server.activeHealthy && this.passes >= this.cfg.healthyThreshold) {
        this.server.activeHealthy = true;
        this.onChange(this.server, true);
      }
    } else {
      this.passes = 0;
      this.fails += 1;
      if (this.server.activeHealthy && this.fails >= this.cfg.unhealthyThreshold) {
        this.server.activeHealthy = false;
        this.onChange(this.server, false);
      }
    }
    return ok;
  }
}
