/**
 * The proxy bench's HTTP/2 load generator (autocannon speaks HTTP/1.1 only, and no h2 load
 * tool is installed here): N TLS sessions on node:http2, each keeping M streams open in a closed
 * loop (a stream that ends starts the next) for the run's duration; then it stops starting
 * streams and waits for the open ones. Latencies of 2xx replies go into an hdr-histogram (µs).
 * Every stream sent ends either completed (a reply read to its end, as long as its Content-Length
 * says, any status) or as an error (reset, cut, timed out, its session failed), so
 * sent = completed + errors.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { LoadResult } from './autocannon-run.js';
import type { ClientTls } from './bench-certificate.js';
import type { Workload } from './bench-workloads.js';
import { LatencyRecorder } from './latency-histogram.js';

export interface H2LoadOptions {
  /** https://host:port of the target. */
  readonly baseUrl: string;
  readonly workload: Workload;
  readonly sessions: number;
  /** Streams each session keeps open at once. */
  readonly streamsPerSession: number;
  readonly durationS: number;
  readonly tls: ClientTls;
  /** A stream with no reply after this long is cancelled and counted as an error (autocannon's 10 s). */
  readonly streamTimeoutMs?: number;
}

export interface H2LoadResult extends LoadResult {
  /** Streams started; each one ended in `completed` or `errors`. */
  readonly sent: number;
  /** What each session negotiated, e.g. "TLSv1.3 h2" (the first session's; all are alike). */
  readonly negotiated: string;
}

const DRAIN_LIMIT_MS = 15_000;

function openSession(baseUrl: string, tls: ClientTls): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(baseUrl, { ca: tls.ca, servername: tls.servername, minVersion: 'TLSv1.3' });
    const onError = (err: Error): void => {
      session.destroy();
      reject(new Error(`h2 load: cannot open a session to ${baseUrl}: ${err.message}`));
    };
    session.once('error', onError);
    session.once('connect', () => {
      session.off('error', onError);
      // From here a session error closes its streams, which count it; the load goes on without it.
      session.on('error', () => undefined);
      if (session.alpnProtocol !== 'h2') {
        session.destroy();
        reject(new Error(`h2 load: ${baseUrl} negotiated ${String(session.alpnProtocol)}, not h2`));
        return;
      }
      resolve(session);
    });
  });
}

function negotiated(session: ClientHttp2Session): string {
  const socket = session.socket as { getProtocol?: () => string | null } | undefined;
  return `${socket?.getProtocol?.() ?? '?'} ${String(session.alpnProtocol)}`;
}

/** Runs the closed loop; rejects only when a session cannot be opened at the start. */
export async function runH2Load(o: H2LoadOptions): Promise<H2LoadResult> {
  const w = o.workload;
  const timeoutMs = o.streamTimeoutMs ?? 10_000;
  const headers: OutgoingHttpHeaders = {
    ':method': w.method,
    ':path': w.path,
    ...w.headers,
    ...(w.body === undefined ? {} : { 'content-length': String(w.body.length) }),
  };
  const opened = await Promise.allSettled(Array.from({ length: o.sessions }, () => openSession(o.baseUrl, o.tls)));
  const sessions = opened.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = opened.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of sessions) s.destroy();
    throw failed.reason;
  }
  const description = sessions[0] === undefined ? '?' : negotiated(sessions[0]);
  const recorder = new LatencyRecorder();
  const start = performance.now();
  const endAt = start + o.durationS * 1000;
  let sent = 0;
  let open = 0;
  let completed = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let lastDoneAt = start;
  /** Set when the run is over: streams that close after it were already counted as errors. */
  let settled = false;
  let allClosed: () => void = () => undefined;
  const drained = new Promise<void>((resolve) => {
    allClosed = resolve;
  });
  const idleCheck = (): void => {
    if (open === 0) allClosed();
  };

  const startStream = (session: ClientHttp2Session): void => {
    if (settled || session.closed || session.destroyed || performance.now() >= endAt) return;
    let stream: ClientHttp2Stream;
    const sentAt = performance.now();
    try {
      stream = session.request(headers, { endStream: w.body === undefined });
    } catch {
      // The session is going away (its streams, failing, count that): this one never went out.
      return;
    }
    sent += 1;
    open += 1;
    let status = 0;
    let ended = false;
    /** The reply's Content-Length, when it has one: a reply cut short can still look ended to node's client. */
    let expectedBytes = -1;
    let bytes = 0;
    stream.on('response', (h) => {
      status = Number(h[':status']);
      const length = h['content-length'];
      if (length !== undefined) expectedBytes = Number(length);
    });
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      ended = true;
    });
    stream.on('error', () => undefined);
    stream.setTimeout(timeoutMs, () => {
      timeouts += 1;
      stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.once('close', () => {
      if (settled) return;
      open -= 1;
      const now = performance.now();
      if (ended && status > 0 && stream.rstCode === constants.NGHTTP2_NO_ERROR && (expectedBytes < 0 || bytes === expectedBytes)) {
        completed += 1;
        lastDoneAt = now;
        if (status >= 200 && status < 300) recorder.recordMs(now - sentAt);
        else non2xx += 1;
      } else {
        errors += 1;
      }
      startStream(session);
      idleCheck();
    });
    if (w.body !== undefined) stream.end(w.body);
  };

  for (const session of sessions) for (let i = 0; i < o.streamsPerSession; i++) startStream(session);
  idleCheck();
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    drained,
    new Promise<void>((resolve) => {
      drainTimer = setTimeout(resolve, o.durationS * 1000 + DRAIN_LIMIT_MS);
    }),
  ]);
  clearTimeout(drainTimer);
  settled = true;
  // Streams still open after the drain limit are errors; destroying their sessions ends them.
  errors += open;
  if (open > 0) for (const s of sessions) s.destroy();
  else await Promise.all(sessions.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(resolve)))));
  const durationS = Math.max(lastDoneAt - start, 1) / 1000;
  const latencyUs = recorder.summary();
  recorder.destroy();
  return { rps: completed / durationS, completed, errors, timeouts, non2xx, durationS, latencyUs, sent, negotiated: description };
}

/** One request on a fresh session (the bench's smoke check): the status, the whole body, what was negotiated. */
export async function h2Exchange(
  baseUrl: string,
  workload: Workload,
  tls: ClientTls,
): Promise<{ status: number; body: string; negotiated: string }> {
  const session = await openSession(baseUrl, tls);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request(
        {
          ':method': workload.method,
          ':path': workload.path,
          ...workload.headers,
          ...(workload.body === undefined ? {} : { 'content-length': String(workload.body.length) }),
        },
        { endStream: workload.body === undefined },
      );
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8'), negotiated: negotiated(session) }));
      if (workload.body !== undefined) stream.end(workload.body);
    });
  } finally {
    session.close();
  }
}
