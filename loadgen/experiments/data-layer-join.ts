import { DataLayerMember, type DataModeTarget } from '../../datasync/index.js';
import type { StoreContext } from './experiment-stores.js';

/**
 * N1's app server in a trial joins the fleet as a data-layer member over the trial's coordinator
 * (role 'member'): the control plane's data-mode switches then wait for it, and its lease fencing
 * refuses writes once the lease lapses. Its session and the member are stopped by `teardown`.
 */
export async function joinAsDataLayer(
  ctx: StoreContext,
  memberId: string,
  targets: readonly DataModeTarget[],
  teardown: Array<() => Promise<unknown>>,
): Promise<DataLayerMember> {
  const coordinator = ctx.coordinator('member');
  teardown.push(() => coordinator.close()); // member.stop() leaves its session open
  const member = new DataLayerMember({ coordinator, memberId, apps: { [ctx.app]: targets }, logger: ctx.logger });
  await member.start();
  teardown.push(() => member.stop());
  return member;
}
