import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { coordinatorContract } from './coordinator-contract.js';

coordinatorContract('embedded', async () => {
  const store = new EmbeddedStore();
  const clients: EmbeddedCoordinator[] = [];
  return {
    async client(): Promise<Coordinator> {
      const c = new EmbeddedCoordinator(store);
      await c.connect();
      clients.push(c);
      return c;
    },
    async expire(c: Coordinator) {
      (c as EmbeddedCoordinator).expire();
    },
    base: () => '/contract',
    async cleanup() {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
});
