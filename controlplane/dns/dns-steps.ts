import type { DnsSteps } from '../migration/migration-hooks.js';
import type { MigrationPlan } from '../migration/plan.js';
import { lowerTtl, restoreRecords, snapshotRecords, switchRecords, type DnsSnapshot } from './dns-cutover.js';
import type { DnsChange, DnsProvider, DnsRecordRef, DnsValueRecord } from './dns-provider.js';

type DnsPlan = NonNullable<MigrationPlan['dns']>;

function refs(dns: DnsPlan): DnsRecordRef[] {
  return dns.records.map((r) => ({ name: r.name, type: r.type }));
}

/**
 * The DNS phase of a migration on any DnsProvider: before anything changes,
 * snapshot the records and lower their TTLs (the switch waits out the old
 * TTL); the switch is one batch polled until INSYNC; a rollback restores the
 * snapshot in one batch. Every timing goes into the migration log.
 */
export function dnsSteps(provider: DnsProvider): DnsSteps {
  return {
    async lowerTtl(plan) {
      const dns = plan.dns!;
      const snapshot = await snapshotRecords(provider, dns.zoneId, refs(dns));
      let notBefore = Date.now();
      const lowered: unknown[] = [];
      for (const entry of snapshot.entries) {
        if (!entry.record || 'alias' in entry.record) continue;
        const r = await lowerTtl(provider, dns.zoneId, entry.ref, dns.lowerTtlTo, { timeoutMs: dns.timeoutMs, pollMs: dns.pollMs });
        notBefore = Math.max(notBefore, Date.parse(r.mustWaitUntil));
        lowered.push({ record: `${entry.ref.name} ${entry.ref.type}`, previousTtl: r.previousTtl, ttl: r.ttl, changed: r.changed, submitToInsyncMs: r.change?.submitToInsyncMs ?? 0 });
      }
      return { notBefore: new Date(notBefore).toISOString(), before: [snapshot], data: { snapshotAt: snapshot.takenAt, lowered } };
    },

    async switch(plan) {
      const dns = plan.dns!;
      const changes: DnsChange[] = dns.records.map((r) => {
        const record: DnsValueRecord = { name: r.name, type: r.type, ttl: r.ttl, values: r.values };
        return { action: 'UPSERT', record };
      });
      let polls = 0;
      const t = await switchRecords(provider, dns.zoneId, changes, { timeoutMs: dns.timeoutMs, pollMs: dns.pollMs, comment: `northwest migration ${plan.id ?? ''}`.trim(), onPoll: () => (polls += 1) });
      return { ...t, polls, records: changes.length, provider: provider.kind };
    },

    async restore(plan, before) {
      const dns = plan.dns!;
      const snapshot = before[0] as DnsSnapshot | undefined;
      if (!snapshot) return { restored: false, reason: 'no snapshot was taken' };
      const r = await restoreRecords(provider, dns.zoneId, snapshot, { timeoutMs: dns.timeoutMs, pollMs: dns.pollMs });
      return { restored: true, upserted: r.upserted.length, deleted: r.deleted.length, ...(r.change ? { submitToInsyncMs: r.change.submitToInsyncMs } : {}) };
    },
  };
}
