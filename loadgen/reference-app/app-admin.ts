import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson } from './app-errors.js';
import { CommitLog } from './commit-log.js';
import type { KvStore } from './kv-store.js';
import { MemoryStore } from './memory-store.js';

/** The app's state the /_admin/ endpoints read and change. */
export interface AdminContext {
  readonly store: KvStore;
  readonly commits: CommitLog | undefined;
  /** Whether the fault switch and the sync endpoints are on (the commit log has its own option). */
  readonly admin: boolean;
  /** While `status` is set, every request but /_admin/ answers it. */
  readonly fault: { status: number | undefined };
}

const FaultBody = z.strictObject({ status: z.number().int().min(400).max(599) });
const SyncBody = z.strictObject({ entries: z.array(z.tuple([z.string().min(1), z.string()])), overwrite: z.boolean().default(false) });

const MAX_ADMIN_BODY = 64 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_ADMIN_BODY) throw new RangeError('admin body too large');
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function intParam(q: URLSearchParams, name: string, fallback: number): number {
  const n = Number(q.get(name) ?? fallback);
  return Number.isSafeInteger(n) && n >= 0 ? n : fallback;
}

/**
 * The chaos campaign's hooks into an app server:
 *
 *   GET    /_admin/commits?after=SEQ&prefix=P&limit=N   the commit log (with the commitLog option)
 *   PUT    /_admin/fault {"status": 503}                 every other request answers that status
 *   DELETE /_admin/fault                                 back to normal
 *   GET    /_admin/snapshot?prefix=P                     {"entries": [[key, value], ...]}: the store of
 *                                                        record (a store with `entries`; behind a
 *                                                        cache, the datastore)
 *   POST   /_admin/sync {"entries": [...], "overwrite"}  writes the keys this side lacks, or with
 *                                                        overwrite every key whose value differs
 *
 * The sync endpoint (MemoryStore only) and a MemoryStore's snapshot are an in-memory stand-in
 * for the datastore sync (as copyMissingKeys in the experiments): the check and the write of
 * each key happen in one synchronous step, so a mirrored write cannot land in between, and a
 * key written during the mirror is kept. The overwrite is for the fence, when no write is in
 * flight and N1 holds the truth.
 * Returns false when the path is not one of these (or the option is off): a plain 404 follows.
 */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, ctx: AdminContext): Promise<boolean> {
  const method = req.method ?? 'GET';
  const query = new URL(req.url ?? '/', 'http://app').searchParams;
  if (path === '/_admin/commits' && method === 'GET' && ctx.commits) {
    const entries = ctx.commits.read(intParam(query, 'after', 0), query.get('prefix') ?? '', intParam(query, 'limit', 10_000));
    sendJson(res, 200, { size: ctx.commits.size, entries });
    return true;
  }
  if (!ctx.admin) return false;
  if (path === '/_admin/fault' && method === 'PUT') {
    const body = FaultBody.safeParse(await readJson(req));
    if (!body.success) {
      sendJson(res, 400, { error: { code: 'NW_APP_BAD_BODY', message: body.error.message } });
      return true;
    }
    ctx.fault.status = body.data.status;
    sendJson(res, 200, { fault: ctx.fault.status });
    return true;
  }
  if (path === '/_admin/fault' && method === 'DELETE') {
    ctx.fault.status = undefined;
    sendJson(res, 200, { fault: null });
    return true;
  }
  const store = ctx.store;
  if (path === '/_admin/snapshot' && method === 'GET' && store.entries) {
    sendJson(res, 200, { entries: await store.entries(query.get('prefix') ?? '') });
    return true;
  }
  if (!(store instanceof MemoryStore)) return false;
  if (path === '/_admin/sync' && method === 'POST') {
    const receivedNs = CommitLog.now();
    const body = SyncBody.safeParse(await readJson(req));
    if (!body.success) {
      sendJson(res, 400, { error: { code: 'NW_APP_BAD_BODY', message: body.error.message } });
      return true;
    }
    let copied = 0;
    for (const [key, value] of body.data.entries) {
      const beginNs = CommitLog.now();
      if (!(body.data.overwrite ? store.putIfDifferent(key, value) : store.putIfAbsent(key, value))) continue;
      copied += 1;
      const version = store.versionOf(key) ?? 0;
      ctx.commits?.record({ key, value, version, requestId: undefined, via: 'sync', receivedNs, beginNs });
    }
    sendJson(res, 200, { copied });
    return true;
  }
  return false;
}
