import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'undici';
import {
  CommittedWriteError,
  type KvStore,
  MAX_BODY_BYTES,
  MemoryStore,
  REFERENCE_APP_ERRORS,
  startReferenceApp,
  type CommitEntry,
  type ReferenceApp,
} from '../../loadgen/reference-app/index.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: unknown;
}

async function call(
  app: ReferenceApp,
  method: 'GET' | 'PUT' | 'DELETE' | 'POST' | 'PATCH' | 'HEAD',
  path: string,
  body?: string | Buffer,
): Promise<Reply> {
  const res = await request(app.url + path, { method, body: body ?? null });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text.length > 0 ? JSON.parse(text) : undefined };
}

function errorCodeOf(r: Reply): string {
  return (r.json as { error: { code: string } }).error.code;
}

/** Sends raw bytes and returns the first response's status line (for requests undici will not send). */
function rawStatus(app: ReferenceApp, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(app.port, '127.0.0.1', () => sock.write(bytes));
    let data = '';
    sock.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      const nl = data.indexOf('\r\n');
      if (nl >= 0) {
        resolve(data.slice(0, nl));
        sock.destroy();
      }
    });
    sock.on('error', reject);
  });
}

describe('reference app', () => {
  let app: ReferenceApp;
  beforeEach(async () => {
    app = await startReferenceApp({ deployment: 'n1' });
  });
  afterEach(async () => {
    await app.close();
  });

  it('stores, reads, overwrites and deletes a key', async () => {
    assert.equal((await call(app, 'GET', '/kv/a')).status, 404);
    const put1 = await call(app, 'PUT', '/kv/a', 'one');
    assert.equal(put1.status, 200);
    const get1 = await call(app, 'GET', '/kv/a');
    assert.equal(get1.status, 200);
    assert.deepEqual(get1.json, { key: 'a', value: 'one', deployment: 'n1', version: (put1.json as { version: number }).version });
    await call(app, 'PUT', '/kv/a', 'two');
    assert.equal(((await call(app, 'GET', '/kv/a')).json as { value: string }).value, 'two');
    assert.equal((await call(app, 'DELETE', '/kv/a')).status, 200);
    const gone = await call(app, 'GET', '/kv/a');
    assert.equal(gone.status, 404);
    assert.equal(errorCodeOf(gone), 'NW_APP_KEY_NOT_FOUND');
    const again = await call(app, 'DELETE', '/kv/a');
    assert.equal(again.status, 404);
  });

  it('stores an empty value', async () => {
    assert.equal((await call(app, 'PUT', '/kv/empty', '')).status, 200);
    assert.equal(((await call(app, 'GET', '/kv/empty')).json as { value: string }).value, '');
  });

  it('gives strictly increasing versions, also across a delete and re-create', async () => {
    const versions: number[] = [];
    for (const [k, v] of [
      ['a', '1'],
      ['b', '2'],
      ['a', '3'],
    ] as const) {
      versions.push(((await call(app, 'PUT', `/kv/${k}`, v)).json as { version: number }).version);
    }
    await call(app, 'DELETE', '/kv/a');
    versions.push(((await call(app, 'PUT', '/kv/a', '4')).json as { version: number }).version);
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `versions ${versions.join(',')}`);
    assert.equal(((await call(app, 'GET', '/kv/a')).json as { version: number }).version, versions.at(-1));
  });

  it('names its deployment in x-served-by on every response, errors included', async () => {
    const replies = [
      await call(app, 'GET', '/healthz'),
      await call(app, 'PUT', '/kv/x', 'v'),
      await call(app, 'GET', '/kv/x'),
      await call(app, 'GET', '/kv/missing'),
      await call(app, 'GET', '/nope'),
      await call(app, 'POST', '/kv/x', 'v'),
      await call(app, 'GET', '/kv/bad%20key'),
    ];
    for (const r of replies) assert.equal(r.headers['x-served-by'], 'n1', `status ${r.status}`);
    assert.deepEqual(replies[0]!.json, { ok: true, deployment: 'n1' });
  });

  it('uses the store it is given', async () => {
    const store = new MemoryStore();
    await store.put('pre', 'loaded');
    const other = await startReferenceApp({ deployment: 'n2', store });
    try {
      const r = await call(other, 'GET', '/kv/pre');
      assert.equal(r.status, 200);
      assert.equal((r.json as { value: string; deployment: string }).value, 'loaded');
      assert.equal(r.headers['x-served-by'], 'n2');
      await call(other, 'PUT', '/kv/new', 'n');
      assert.equal((await store.get('new'))?.value, 'n');
      assert.equal(other.store, store);
    } finally {
      await other.close();
    }
  });

  describe('bad input', () => {
    it('answers 404 with JSON for an unknown path', async () => {
      for (const path of ['/', '/kv', '/kvx/a', '/other']) {
        const r = await call(app, 'GET', path);
        assert.equal(r.status, 404, path);
        assert.equal(errorCodeOf(r), 'NW_APP_NOT_FOUND');
        assert.match(String(r.headers['content-type']), /application\/json/);
      }
    });

    it('answers 405 with Allow for a wrong method', async () => {
      const post = await call(app, 'POST', '/kv/a', 'x');
      assert.equal(post.status, 405);
      assert.equal(errorCodeOf(post), 'NW_APP_METHOD_NOT_ALLOWED');
      assert.equal(post.headers.allow, 'GET, PUT, DELETE');
      const patch = await call(app, 'PATCH', '/kv/a', 'x');
      assert.equal(patch.status, 405);
      const health = await call(app, 'PUT', '/healthz', 'x');
      assert.equal(health.status, 405);
      assert.equal(health.headers.allow, 'GET, HEAD');
    });

    it('answers 400 for an empty, too long or not URL-safe key', async () => {
      for (const path of ['/kv/', `/kv/${'k'.repeat(257)}`, '/kv/a%20b', '/kv/a/b', '/kv/%C3%A9', "/kv/a'b"]) {
        const r = await call(app, 'GET', path);
        assert.equal(r.status, 400, path);
        assert.equal(errorCodeOf(r), 'NW_APP_INVALID_KEY');
      }
      assert.equal((await call(app, 'PUT', `/kv/${'k'.repeat(256)}`, 'v')).status, 200);
      assert.equal((await call(app, 'PUT', '/kv/a%20b', 'v')).status, 400);
    });

    it('answers 413 for a body over 1 MiB, declared or chunked, and stores nothing', async () => {
      const declared = await call(app, 'PUT', '/kv/big', Buffer.alloc(MAX_BODY_BYTES + 1, 'x'));
      assert.equal(declared.status, 413);
      assert.equal(errorCodeOf(declared), 'NW_APP_BODY_TOO_LARGE');
      const chunked = await rawStatus(
        app,
        'PUT /kv/big2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `${(MAX_BODY_BYTES + 10).toString(16)}\r\n${'y'.repeat(MAX_BODY_BYTES + 10)}\r\n0\r\n\r\n`,
      );
      assert.match(chunked, /^HTTP\/1\.1 413 /);
      assert.equal((await call(app, 'GET', '/kv/big')).status, 404);
      assert.equal((await call(app, 'GET', '/kv/big2')).status, 404);
      assert.equal((await call(app, 'PUT', '/kv/exact', Buffer.alloc(MAX_BODY_BYTES, 'x'))).status, 200);
    });

    it('has a unique, documented code for every error', () => {
      for (const [code, e] of Object.entries(REFERENCE_APP_ERRORS)) {
        assert.match(code, /^NW_APP_[A-Z_]+$/);
        assert.ok(e.status >= 400 && e.message.length > 0, code);
      }
    });
  });
});

describe('reference app CLI', () => {
  it('starts on the given port with the given deployment name, and rejects a missing --deployment', async () => {
    const { spawn } = await import('node:child_process');
    const cli = new URL('../../loadgen/reference-app/reference-app-cli.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', cli, '--deployment', 'n2', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const res = await request(`${url}/healthz`);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-served-by'], 'n2');
      await res.body.dump();
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const bad = spawn(process.execPath, ['--import', 'tsx', cli, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => bad.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /--deployment/);
  });
});

describe('memory store', () => {
  it('putIfAbsent writes only a missing key, with a new version', async () => {
    const store = new MemoryStore();
    const v1 = await store.put('a', 'first');
    assert.equal(store.putIfAbsent('a', 'other'), false);
    assert.deepEqual(await store.get('a'), { value: 'first', version: v1 });
    assert.equal(store.putIfAbsent('b', 'new'), true);
    assert.ok((await store.get('b'))!.version > v1);
  });

  it('snapshot is a copy that later writes do not change', async () => {
    const store = new MemoryStore();
    await store.put('a', '1');
    const snap = store.snapshot();
    await store.put('b', '2');
    await store.delete('a');
    assert.deepEqual(
      snap.map(([k, e]) => [k, e.value]),
      [['a', '1']],
    );
    assert.equal(store.size, 1);
  });
});

describe("reference app: the chaos campaign's instrumentation", () => {
  let app: ReferenceApp;
  beforeEach(async () => {
    app = await startReferenceApp({ deployment: 'n2', commitLog: true, admin: true, webSocket: true });
  });
  afterEach(async () => {
    await app.close();
  });

  const json = async (
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const res = await request(app.url + path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.statusCode, body: await res.body.json() };
  };

  it('logs every applied write with its request id and monotonic times, and serves the log in pages by prefix', async () => {
    const t0 = process.hrtime.bigint();
    await request(`${app.url}/kv/a.k1`, { method: 'PUT', body: 'one', headers: { 'x-request-id': 'req-1' } }).then((r) => r.body.dump());
    await request(`${app.url}/kv/b.k1`, { method: 'PUT', body: 'two' }).then((r) => r.body.dump());
    await request(`${app.url}/kv/a.k2`, { method: 'PUT', body: 'three', headers: { 'x-request-id': 'req-3' } }).then((r) => r.body.dump());
    await request(`${app.url}/kv/a.k1`).then((r) => r.body.dump()); // reads are not in it
    const t1 = process.hrtime.bigint();
    const all = (await json('GET', '/_admin/commits')).body as { size: number; entries: CommitEntry[] };
    assert.equal(all.size, 3);
    assert.deepEqual(
      all.entries.map((e) => [e.seq, e.key, e.value, e.requestId, e.via]),
      [
        [1, 'a.k1', 'one', 'req-1', 'http'],
        [2, 'b.k1', 'two', undefined, 'http'],
        [3, 'a.k2', 'three', 'req-3', 'http'],
      ],
    );
    for (const e of all.entries) {
      assert.ok(
        t0 <= BigInt(e.receivedNs) &&
          BigInt(e.receivedNs) <= BigInt(e.beginNs) &&
          BigInt(e.beginNs) <= BigInt(e.endNs) &&
          BigInt(e.endNs) <= t1,
      );
    }
    const page = (await json('GET', '/_admin/commits?prefix=a.&after=1')).body as { entries: CommitEntry[] };
    assert.deepEqual(
      page.entries.map((e) => e.seq),
      [3],
    );
  });

  it('answers everything but /_admin/ with the fault status while the switch is on, and writes nothing', async () => {
    assert.equal((await json('PUT', '/_admin/fault', { status: 503 })).status, 200);
    const put = await request(`${app.url}/kv/x`, { method: 'PUT', body: 'v' });
    assert.equal(put.statusCode, 503);
    assert.equal(((await put.body.json()) as { error: { code: string } }).error.code, 'NW_APP_FAULT_INJECTED');
    const health = await request(`${app.url}/healthz`);
    assert.equal(health.statusCode, 503);
    await health.body.dump();
    assert.equal(((await json('GET', '/_admin/commits')).body as { size: number }).size, 0);
    await json('DELETE', '/_admin/fault');
    const ok = await request(`${app.url}/kv/x`, { method: 'PUT', body: 'v' });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
  });

  it('copies missing keys, or with overwrite every differing key, and logs the copies as sync', async () => {
    await request(`${app.url}/kv/s.k1`, { method: 'PUT', body: 'newer' }).then((r) => r.body.dump());
    const entries = [
      ['s.k1', 'older'],
      ['s.k2', 'copied'],
    ];
    assert.deepEqual((await json('POST', '/_admin/sync', { entries })).body, { copied: 1 });
    assert.deepEqual((await json('GET', '/_admin/snapshot?prefix=s.')).body, {
      entries: [
        ['s.k1', 'newer'],
        ['s.k2', 'copied'],
      ],
    });
    assert.deepEqual((await json('POST', '/_admin/sync', { entries, overwrite: true })).body, { copied: 1 });
    assert.deepEqual(((await json('GET', '/_admin/snapshot?prefix=s.')).body as { entries: unknown }).entries, entries);
    const log = ((await json('GET', '/_admin/commits')).body as { entries: CommitEntry[] }).entries;
    assert.deepEqual(
      log.map((e) => [e.key, e.value, e.via]),
      [
        ['s.k1', 'newer', 'http'],
        ['s.k2', 'copied', 'sync'],
        ['s.k1', 'older', 'sync'],
      ],
    );
  });

  it('takes writes over a WebSocket at /ws, answers each with its version, and logs them with the message id', async () => {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const replies: unknown[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        replies.push(JSON.parse(d.toString()));
        if (replies.length === 2) resolve();
      }),
    );
    ws.send(JSON.stringify({ id: 'm-1', key: 'w.k1', value: 'hello' }));
    ws.send('not json');
    await got;
    ws.close();
    // the refusal is answered at once, the write once the store has it
    assert.deepEqual(replies, [
      { ok: false, error: 'expected {"id", "key", "value"}' },
      { id: 'm-1', ok: true, key: 'w.k1', version: 1, deployment: 'n2' },
    ]);
    const log = ((await json('GET', '/_admin/commits')).body as { entries: CommitEntry[] }).entries;
    assert.deepEqual(
      log.map((e) => [e.key, e.value, e.requestId, e.via]),
      [['w.k1', 'hello', 'm-1', 'ws']],
    );
  });

  it('logs a write the store committed before a later step (a cache update) failed, answered 500; not one that failed before', async () => {
    const mem = new MemoryStore();
    let fail: 'after-commit' | 'before-commit' = 'after-commit';
    const store: KvStore = {
      get: (k) => mem.get(k),
      delete: (k) => mem.delete(k),
      put: async (k, v) => {
        if (fail === 'before-commit') throw new Error('store down');
        throw new CommittedWriteError(await mem.put(k, v), new Error('cache down'));
      },
    };
    const odd = await startReferenceApp({ deployment: 'n1', store, commitLog: true, admin: true, webSocket: true });
    try {
      const put = await request(`${odd.url}/kv/c.k1`, { method: 'PUT', body: 'kept', headers: { 'x-request-id': 'req-c1' } });
      assert.equal(put.statusCode, 500);
      assert.deepEqual(await put.body.json(), {
        error: {
          code: 'NW_APP_STORE_FAILED',
          message: 'store failed',
          cause: { message: 'the write committed (version 1), then: cache down' },
        },
      });
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(`${odd.url.replace('http', 'ws')}/ws`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const reply = new Promise<unknown>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
      ws.send(JSON.stringify({ id: 'm-c2', key: 'c.k2', value: 'kept too' }));
      assert.deepEqual(await reply, { id: 'm-c2', ok: false, error: 'store failed' });
      ws.close();
      fail = 'before-commit';
      const lost = await request(`${odd.url}/kv/c.k3`, { method: 'PUT', body: 'never stored' });
      assert.equal(lost.statusCode, 500);
      assert.deepEqual(((await lost.body.json()) as { error: { cause: unknown } }).error.cause, { message: 'store down' });
      assert.deepEqual(
        odd.commits?.read().map((e) => [e.key, e.value, e.version, e.requestId, e.via]),
        [
          ['c.k1', 'kept', 1, 'req-c1', 'http'],
          ['c.k2', 'kept too', 2, 'm-c2', 'ws'],
        ],
      );
    } finally {
      await odd.close();
    }
  });

  it('serves /_admin/snapshot from any store that lists its entries, not only from memory', async () => {
    const listed: KvStore = {
      get: async () => undefined,
      put: async () => 1,
      delete: async () => false,
      entries: async (prefix) => [[`${prefix}k1`, 'from the datastore']],
    };
    const backed = await startReferenceApp({ deployment: 'n2', store: listed, admin: true });
    try {
      const res = await request(`${backed.url}/_admin/snapshot?prefix=m3.`);
      assert.deepEqual(await res.body.json(), { entries: [['m3.k1', 'from the datastore']] });
      // the in-memory sync stand-in stays for MemoryStores only
      assert.equal((await request(`${backed.url}/_admin/sync`, { method: 'POST', body: '{"entries":[]}' })).statusCode, 404);
    } finally {
      await backed.close();
    }
  });

  it('has none of it unless asked: no commit log, no admin endpoints, no /ws', async () => {
    const plain = await startReferenceApp({ deployment: 'n1' });
    try {
      for (const path of ['/_admin/commits', '/_admin/snapshot']) assert.equal((await request(plain.url + path)).statusCode, 404, path);
      assert.equal((await request(`${plain.url}/_admin/fault`, { method: 'PUT', body: '{"status":503}' })).statusCode, 404);
      assert.equal(plain.commits, undefined);
    } finally {
      await plain.close();
    }
  });
});
