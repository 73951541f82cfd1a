import { SeriesIndex } from './series-index.js';

/**
 * A small Prometheus text-format registry. A series is found by its label values through nested
 * maps (series-index.ts): no key string is built on the request path.
 */

type Labels = readonly string[];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(names: Labels, values: Labels, extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: Labels,
  ) {}
  abstract render(): string;
  protected header(type: string): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${type}\n`;
  }
}

interface Sample {
  readonly labels: Labels;
  value: number;
}

export class Counter extends Metric {
  private readonly values = new SeriesIndex<Sample>();
  inc(labels: Labels = [], by = 1): void {
    const cur = this.values.find(labels);
    if (cur) cur.value += by;
    else this.values.add(labels, { labels, value: by });
  }
  get(labels: Labels = []): number {
    return this.values.find(labels)?.value ?? 0;
  }
  render(): string {
    let out = this.header('counter');
    for (const { labels, value } of this.values.series) out += `${this.name}${renderLabels(this.labelNames, labels)} ${value}\n`;
    return out;
  }
}

export class Gauge extends Metric {
  private readonly values = new SeriesIndex<Sample>();
  private collector: (() => Array<[Labels, number]>) | undefined;
  set(labels: Labels, value: number): void {
    const cur = this.values.find(labels);
    if (cur) cur.value = value;
    else this.values.add(labels, { labels, value });
  }
  add(labels: Labels, by: number): void {
    const cur = this.values.find(labels);
    if (cur) cur.value += by;
    else this.values.add(labels, { labels, value: by });
  }
  get(labels: Labels = []): number {
    return this.values.find(labels)?.value ?? 0;
  }
  /** Values computed at scrape time (e.g. upstream health). */
  collect(fn: () => Array<[Labels, number]>): void {
    this.collector = fn;
  }
  render(): string {
    let out = this.header('gauge');
    if (this.collector)
      for (const [labels, value] of this.collector()) out += `${this.name}${renderLabels(this.labelNames, labels)} ${value}\n`;
    for (const { labels, value } of this.values.series) out += `${this.name}${renderLabels(this.labelNames, labels)} ${value}\n`;
    return out;
  }
}

export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class Histogram extends Metric {
  private readonly series = new SeriesIndex<{ labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    labelNames: Labels,
    private readonly buckets: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ) {
    super(name, help, labelNames);
  }
  observe(labels: Labels, value: number): void {
    let s = this.series.find(labels);
    if (!s) s = this.series.add(labels, { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 });
    // Count in the first bucket that holds the value; render() makes the counts cumulative.
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }
  count(labels: Labels = []): number {
    return this.series.find(labels)?.count ?? 0;
  }
  render(): string {
    let out = this.header('histogram');
    for (const s of this.series.series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        out += `${this.name}_bucket${renderLabels(this.labelNames, s.labels, `le="${this.buckets[i]}"`)} ${cumulative}\n`;
      }
      out += `${this.name}_bucket${renderLabels(this.labelNames, s.labels, 'le="+Inf"')} ${s.count}\n`;
      out += `${this.name}_sum${renderLabels(this.labelNames, s.labels)} ${s.sum}\n`;
      out += `${this.name}_count${renderLabels(this.labelNames, s.labels)} ${s.count}\n`;
    }
    return out;
  }
}

/** Every metric the gateway exports. */
export class GatewayMetrics {
  readonly requests = new Counter('northwest_gateway_requests_total', 'Requests answered, by app, mode, deployment and status.', [
    'app',
    'mode',
    'deployment',
    'status',
  ]);
  readonly latency = new Histogram('northwest_gateway_request_duration_seconds', 'Time from request to response end.', [
    'app',
    'deployment',
  ]);
  readonly inFlight = new Gauge('northwest_gateway_in_flight_requests', 'Requests being served.', ['app']);
  readonly heldWrites = new Gauge('northwest_gateway_held_writes', 'Writes held by a fence right now.', ['app']);
  readonly holdTime = new Histogram('northwest_gateway_write_hold_seconds', 'How long released writes were held by a fence.', ['app']);
  readonly errors = new Counter('northwest_gateway_errors_total', 'Failures by error code.', ['app', 'code']);
  readonly mirrorMismatch = new Counter(
    'northwest_gateway_shadow_mismatches_total',
    'Shadow-compared reads whose status or body differed.',
    ['app'],
  );
  readonly mirrorDivergences = new Counter(
    'northwest_gateway_mirror_divergences_total',
    'Mirrored writes whose outcomes differed in class, by the side that did not confirm what the other did (or both).',
    ['app', 'side'],
  );
  readonly readFallbacks = new Counter('northwest_gateway_read_fallbacks_total', 'Reads served by the other deployment after a failure.', [
    'app',
  ]);
  readonly retries = new Counter('northwest_gateway_upstream_retries_total', 'Idempotent requests retried on another server.', [
    'app',
    'deployment',
  ]);
  readonly upstreamHealthy = new Gauge('northwest_gateway_upstream_healthy', 'Whether an upstream server is in rotation (1) or not (0).', [
    'app',
    'deployment',
    'server',
  ]);
  readonly upstreamInFlight = new Gauge('northwest_gateway_upstream_in_flight', 'Requests in flight per upstream server.', [
    'app',
    'deployment',
    'server',
  ]);
  readonly websocketsOpen = new Gauge('northwest_gateway_websockets_open', 'Open WebSockets by the deployment they talk to.', [
    'app',
    'deployment',
  ]);
  readonly websocketCloses = new Counter(
    'northwest_gateway_websocket_closes_total',
    'Open WebSockets that ended, by who ended them: client, upstream, state (1012), lease (1013) or shutdown (1001).',
    ['app', 'deployment', 'reason'],
  );
  readonly bufferedBytes = new Gauge(
    'northwest_gateway_buffered_body_bytes',
    'Request body bytes held in memory for mirrored writes and mirror-mode reads (limits.maxBufferedBytes).',
    [],
  );
  readonly stateEpoch = new Gauge('northwest_gateway_state_epoch', 'Epoch of the state applied per app.', ['app', 'mode']);
  readonly stateApplies = new Counter('northwest_gateway_state_applies_total', 'State applications by result.', ['app', 'result']);
  readonly reloads = new Counter('northwest_gateway_config_reloads_total', 'Config reloads by result: ok, or the error code.', ['result']);

  render(): string {
    return [
      this.requests,
      this.latency,
      this.inFlight,
      this.heldWrites,
      this.holdTime,
      this.errors,
      this.mirrorMismatch,
      this.mirrorDivergences,
      this.readFallbacks,
      this.retries,
      this.upstreamHealthy,
      this.upstreamInFlight,
      this.websocketsOpen,
      this.websocketCloses,
      this.bufferedBytes,
      this.stateEpoch,
      this.stateApplies,
      this.reloads,
    ]
      .map((m) => m.render())
      .join('');
  }
}
