// A client of the control plane's live dashboard as a browser uses it: the sign-in form, the
// session cookie, the page's CSRF token, and the server-sent event stream, read as it comes.
import { request } from 'undici';
import { CP_TOKEN } from './control-plane-harness.js';
import { eventually } from './eventually.js';

export interface DashboardSignIn {
  /** `nw_dashboard=<id>`, ready for a Cookie header. */
  readonly cookie: string;
  /** The whole Set-Cookie header the sign-in answered with. */
  readonly setCookie: string;
  /** The CSRF token from the page's meta tag. */
  readonly csrf: string;
}

/** POSTs the sign-in form as a browser does (application/x-www-form-urlencoded). */
export async function postSignIn(url: string, token: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${url}/dashboard/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
    body: new URLSearchParams({ token }).toString(),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** Signs in with the token, then loads the page for its CSRF token. */
export async function signIn(url: string, token: string = CP_TOKEN): Promise<DashboardSignIn> {
  const r = await postSignIn(url, token);
  if (r.status !== 303) throw new Error(`sign-in answered ${r.status}: ${r.text}`);
  const setCookie = String(r.headers['set-cookie']);
  const cookie = setCookie.split(';')[0]!;
  const page = await request(`${url}/dashboard`, { headers: { cookie } });
  const html = await page.body.text();
  const csrf = /<meta name="northwest-csrf" content="([^"]+)">/.exec(html)?.[1];
  if (page.statusCode !== 200 || !csrf) throw new Error(`the page answered ${page.statusCode} without a CSRF token`);
  return { cookie, setCookie, csrf };
}

export interface StreamEvent {
  readonly type: string;
  readonly data: unknown;
  /** Date.now() when it was read. */
  readonly receivedAt: number;
}

/** An open /dashboard/events stream: every event so far, in order. */
export interface EventStream {
  readonly status: number;
  readonly events: StreamEvent[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Resolves when the server ends the stream within `ms`, else rejects (and closes it). */
  endsWithin(ms: number, message: string): Promise<void>;
  /** The first event (at or after `from`) that `pred` accepts. */
  waitFor<T>(pred: (e: StreamEvent) => T | undefined | false, opts: { timeoutMs: number; message: string; from?: number }): Promise<T>;
  close(): void;
}

/** Opens the event stream with a cookie and parses it (`event:` and `data:` lines, blank line ends one). */
export async function openEventStream(url: string, cookie: string | undefined): Promise<EventStream> {
  const ac = new AbortController();
  const res = await fetch(`${url}/dashboard/events`, { headers: cookie ? { cookie } : {}, signal: ac.signal });
  const events: StreamEvent[] = [];
  const ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) events.push({ type, data: JSON.parse(data.join('\n')), receivedAt: Date.now() });
        }
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
  })();
  ended.catch(() => undefined);
  return {
    status: res.status,
    events,
    ended,
    waitFor: (pred, opts) =>
      eventually(
        () => {
          for (const e of events.slice(opts.from ?? 0)) {
            const v = pred(e);
            if (v !== undefined && v !== false) return v;
          }
          throw new Error(`not yet, after ${events.length} event(s): ${events.map((e) => e.type).join(' ')}`);
        },
        { timeoutMs: opts.timeoutMs, intervalMs: 25, message: opts.message },
      ),
    endsWithin: async (ms, message) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message}: the stream is still open after ${ms} ms`)), ms);
      });
      try {
        await Promise.race([ended, late]);
      } catch (err) {
        ac.abort();
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => ac.abort(),
  };
}
