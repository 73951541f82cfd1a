import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'undici';
import {
  MAX_BODY_BYTES,
  MemoryStore,
  REFERENCE_APP_ERRORS,
  startReferenceApp,
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
