import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis, RedisKey } from 'ioredis';

type ScriptArg = string | Buffer | number;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.includes('NOSCRIPT');
}

/**
 * A Lua script run by its SHA1 (EVALSHA), falling back to EVAL once when the
 * server does not know it yet. Keys go through the client's keyPrefix.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly source: string,
    readonly numKeys: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly RedisKey[], args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, this.numKeys, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.eval(this.source, this.numKeys, ...keys, ...args);
    }
  }

  /** Same, with bulk-string replies as Buffers (binary payloads such as DUMP). */
  async runBuffer(client: Redis, keys: readonly RedisKey[], args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await client.callBuffer('EVALSHA', this.sha, this.numKeys, ...keys, ...args);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.callBuffer('EVAL', this.source, this.numKeys, ...keys, ...args);
    }
  }

  /** Queues an EVALSHA on a pipeline; call `load` on that client first. */
  queue(pipeline: ChainableCommander, keys: readonly RedisKey[], args: readonly ScriptArg[], buffers = false): void {
    if (buffers) pipeline.callBuffer('EVALSHA', this.sha, this.numKeys, ...keys, ...args);
    else pipeline.evalsha(this.sha, this.numKeys, ...keys, ...args);
  }

  async load(client: Redis): Promise<void> {
    await client.script('LOAD', this.source);
  }
}
