/**
 * The floor of bench:flip: bare node-zookeeper-client sessions doing the same
 * round trips as a flip, with none of our code. A member reads the state on
 * its data watch and writes its ack (one read, one write, like a gateway's
 * follower); the driver sets the state and one reader watches every ack node
 * until all carry the new epoch (like the fleet barrier). What this costs on
 * a host is what any coordination through ZooKeeper costs there.
 */
import zookeeper from 'node-zookeeper-client';

type Client = zookeeper.Client;

const STATE = '/floor-state';
const ACKS = '/floor-acks';

function connect(connectString: string, chroot: string): Promise<Client> {
  const client = zookeeper.createClient(`${connectString}${chroot}`, { sessionTimeout: 10_000, spinDelay: 200 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`floor: no ZooKeeper session within 10 s (${connectString})`)), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

function call<T>(fn: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/** Creates the floor's chroot (open ACLs: the floor has no credentials) and its nodes; idempotent. */
export async function prepareFloor(connectString: string, chroot: string): Promise<void> {
  const root = await connect(connectString, '');
  try {
    await call<string>((cb) => root.mkdirp(chroot, cb));
  } finally {
    root.close();
  }
  const c = await connect(connectString, chroot);
  try {
    for (const path of [STATE, ACKS]) {
      await call<string>((cb) => c.create(path, Buffer.from('0'), cb)).catch((err: { code?: number }) => {
        if (err.code !== zookeeper.Exception.NODE_EXISTS) throw err;
      });
    }
  } finally {
    c.close();
  }
}

/** `count` bare members: each acks every state version it reads. */
export async function startFloorMembers(connectString: string, chroot: string, first: number, count: number): Promise<() => void> {
  const clients: Client[] = [];
  for (let i = first; i < first + count; i++) {
    const c = await connect(connectString, chroot);
    clients.push(c);
    const ack = `${ACKS}/m${i}`;
    await call<string>((cb) => c.create(ack, Buffer.from('-1'), zookeeper.CreateMode.EPHEMERAL, cb));
    const read = (): void => {
      c.getData(STATE, read, (err, _data, stat) => {
        if (err) return;
        c.setData(ack, Buffer.from(String(stat.version)), () => undefined);
      });
    };
    read();
  }
  return () => {
    for (const c of clients) c.close();
  };
}

/** The floor's control-plane side: sets the state and waits until every ack node carries its version. */
export class FloorDriver {
  private constructor(
    private readonly client: Client,
    private readonly members: number,
  ) {}

  static async connect(connectString: string, chroot: string, members: number): Promise<FloorDriver> {
    return new FloorDriver(await connect(connectString, chroot), members);
  }

  /** One flip; resolves with the ms from the state write's commit to the last ack seen. */
  async flip(timeoutMs = 30_000): Promise<number> {
    const stat = await call<zookeeper.Stat>((cb) => this.client.setData(STATE, Buffer.from('s'), cb));
    const committed = performance.now();
    const epoch = stat.version;
    const acks = await call<string[]>((cb) => this.client.getChildren(ACKS, cb));
    if (acks.length !== this.members) throw new Error(`floor: ${acks.length} ack nodes for ${this.members} members`);
    return new Promise<number>((resolve, reject) => {
      const pending = new Set(acks);
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`floor: ${pending.size} members did not ack epoch ${epoch} within ${timeoutMs} ms`));
      }, timeoutMs);
      const watch = (name: string): void => {
        this.client.getData(
          `${ACKS}/${name}`,
          () => {
            if (!done && pending.has(name)) watch(name);
          },
          (err, data) => {
            if (done || err || !pending.has(name)) return;
            if (Number(data?.toString()) >= epoch) {
              pending.delete(name);
              if (pending.size === 0) {
                done = true;
                clearTimeout(timer);
                resolve(performance.now() - committed);
              }
            }
          },
        );
      };
      for (const name of acks) watch(name);
    });
  }

  close(): void {
    this.client.close();
  }
}
