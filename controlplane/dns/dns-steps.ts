import type { DnsSteps } from '../migration/migration-hooks.js';
import type { MigrationPlan, PlanDnsRecord } from '../migration/plan.js';
import {
  lowerTtl,
  restoreRecords,
  shiftWeights,
  snapshotRecords,
  switchRecords,
  weightedRecordRefs,
  type DnsSnapshot,
  type WeightedShiftSpec,
} from './dns-cutover.js';
import type { DnsChange, DnsProvider, DnsRecord, DnsRecordRef } from './dns-provider.js';

type DnsPlan = NonNullable<MigrationPlan['dns']>;

function toRecord(r: PlanDnsRecord): DnsRecord {
  return 'alias' in r ? { name: r.name, type: r.type, alias: r.alias } : { name: r.name, type: r.type, ttl: r.ttl, values: r.values };
}

function weightedSpec(dns: DnsPlan): WeightedShiftSpec | undefined {
  const w = dns.weighted;
  return w && { name: w.name, type: w.type, ttl: w.ttl, n1: w.n1, n2: w.n2 };
}

/** Every record set the migration may change: what the rollback snapshot covers. */
function refs(dns: DnsPlan): DnsRecordRef[] {
  const spec = weightedSpec(dns);
  return [...dns.records.map((r) => ({ name: r.name, type: r.type })), ...(spec ? weightedRecordRefs(spec) : [])];
}

/**
 * The DNS phase of a migration on any DnsProvider: before anything changes,
 * snapshot the records and lower their TTLs (the switch waits out the old
 * TTL); the switch is one batch polled until INSYNC, or a weighted shift in
 * steps; a rollback restores the snapshot in one batch. Every timing goes
 * into the migration log.
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
        lowered.push({
          record: `${entry.ref.name} ${entry.ref.type}${entry.ref.setIdentifier ? ` ${entry.ref.setIdentifier}` : ''}`,
          previousTtl: r.previousTtl,
          ttl: r.ttl,
          changed: r.changed,
          submitToInsyncMs: r.change?.submitToInsyncMs ?? 0,
        });
      }
      return { notBefore: new Date(notBefore).toISOString(), before: [snapshot], data: { snapshotAt: snapshot.takenAt, lowered } };
    },

    async switch(plan) {
      const dns = plan.dns!;
      const out: Record<string, unknown> = { provider: provider.kind };
      if (dns.records.length > 0) {
        const changes: DnsChange[] = dns.records.map((r) => ({ action: 'UPSERT', record: toRecord(r) }));
        const t = await switchRecords(provider, dns.zoneId, changes, {
          timeoutMs: dns.timeoutMs,
          pollMs: dns.pollMs,
          comment: `northwest migration ${plan.id ?? ''}`.trim(),
        });
        Object.assign(out, t, { records: changes.length });
      }
      const spec = weightedSpec(dns);
      if (spec && dns.weighted) {
        const shift = await shiftWeights(provider, dns.zoneId, spec, dns.weighted.steps, {
          timeoutMs: dns.timeoutMs,
          pollMs: dns.pollMs,
          holdMs: dns.weighted.holdMs,
        });
        out.weighted = {
          steps: shift.steps.map((s) => ({ percentToN2: s.percentToN2, submitToInsyncMs: s.submitToInsyncMs, insyncAt: s.insyncAt })),
          totalMs: shift.totalMs,
        };
      }
      return out;
    },

    async restore(plan, before) {
      const dns = plan.dns!;
      const snapshot = before[0] as DnsSnapshot | undefined;
      if (!snapshot) return { restored: false, reason: 'no snapshot was taken' };
      const r = await restoreRecords(provider, dns.zoneId, snapshot, { timeoutMs: dns.timeoutMs, pollMs: dns.pollMs });
      return {
        restored: true,
        upserted: r.upserted.length,
        deleted: r.deleted.length,
        ...(r.change ? { submitToInsyncMs: r.change.submitToInsyncMs } : {}),
      };
    },
  };
}
