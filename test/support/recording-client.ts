// A real cassandra-driver client whose writes are recorded: the consistency level each `execute`
// and `batch` asked the driver for (undefined: the client's default). Everything else goes through.
import type cassandra from 'cassandra-driver';

export function recordingConsistency(client: cassandra.Client, into: Array<number | undefined>): cassandra.Client {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'execute')
        return (q: string, p: unknown[], o?: cassandra.QueryOptions) => {
          into.push(o?.consistency);
          return target.execute(q, p, o);
        };
      if (prop === 'batch')
        return (q: Array<{ query: string; params?: unknown[] }>, o?: cassandra.QueryOptions) => {
          into.push(o?.consistency);
          return target.batch(q, o);
        };
      return Reflect.get(target, prop, receiver);
    },
  });
}
