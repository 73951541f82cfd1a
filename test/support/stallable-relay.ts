import net from 'node:net';

/** A loopback TCP relay to one server that can stop passing bytes, like a hung link. */
export interface StallableRelay {
  readonly port: number;
  /** Stops (or resumes) every connection, and those opened while stalled. */
  stall(on: boolean): void;
  close(): Promise<void>;
}

export async function startStallableRelay(target: { host: string; port: number }): Promise<StallableRelay> {
  const pairs: Array<[net.Socket, net.Socket]> = [];
  let stalled = false;
  const server = net.createServer((down) => {
    const up = net.connect(target);
    pairs.push([down, up]);
    down.pipe(up);
    up.pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    // A client that gives up on a hung connection and dials again must not get through either.
    if (stalled) for (const s of [down, up]) s.pause();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    stall: (on) => {
      stalled = on;
      for (const s of pairs.flat()) {
        if (on) s.pause();
        else s.resume();
      }
    },
    close: async () => {
      for (const s of pairs.flat()) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
