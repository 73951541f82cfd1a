/**
 * One process of bench:flip's fleet: `count` members, numbered from `first`,
 * either gateways (fleet members with their own ZooKeeper sessions) or the
 * floor's bare ZooKeeper clients. Prints {"ready":true,"urls":[...]} once
 * every member is up, then {"hold":ms} for each write a fence held and let
 * go; closes its members on SIGTERM.
 *
 *   flip-member-process.ts --kind gateway --first I --count N --coordinator JSON --n1 URL --n2 URL
 *   flip-member-process.ts --kind floor --first I --count N --connect CS --chroot C
 */
import { parseArgs } from 'node:util';
import type { CoordinatorConfig } from '../../platform/index.js';
import { startFloorMembers } from './flip-floor.js';
import { startFlipFleet } from './flip-fleet.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' },
      first: { type: 'string', default: '0' },
      count: { type: 'string' },
      connect: { type: 'string' },
      coordinator: { type: 'string' },
      chroot: { type: 'string' },
      n1: { type: 'string' },
      n2: { type: 'string' },
    },
  });
  const first = Number(values.first);
  const count = Number(values.count);
  const { connect, chroot } = values;
  if (!(count >= 1)) throw new Error('flip-member-process: --count is required');
  let close: () => Promise<void>;
  let urls: readonly string[] = [];
  if (values.kind === 'floor') {
    if (!connect || !chroot) throw new Error('flip-member-process: the floor needs --connect and --chroot');
    const stop = await startFloorMembers(connect, chroot, first, count);
    close = async () => stop();
  } else if (values.kind === 'gateway') {
    if (!values.n1 || !values.n2 || !values.coordinator) throw new Error('flip-member-process: gateways need --coordinator, --n1 and --n2');
    const coordinator = JSON.parse(values.coordinator) as CoordinatorConfig;
    const fleet = await startFlipFleet(count, coordinator, {
      first,
      upstreams: { n1: values.n1, n2: values.n2 },
      onWriteReleased: (_app, heldMs) => process.stdout.write(`${JSON.stringify({ hold: heldMs })}\n`),
    });
    urls = fleet.urls;
    close = () => fleet.close();
  } else {
    throw new Error(`flip-member-process: --kind must be gateway or floor, got ${values.kind}`);
  }
  process.stdout.write(`${JSON.stringify({ ready: true, urls })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`flip-member-process: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
