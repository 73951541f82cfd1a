import { randomBytes } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { type DnsProvider, type DnsRecord, MemoryDnsProvider, Route53DnsProvider } from '../../controlplane/index.js';
import type { ExperimentConfig } from './experiment-config.js';
import { ExperimentError } from './experiment-errors.js';

/** N1's address record before the switch, and N2's after (documentation addresses, never dialled). */
const N1_VALUES = ['192.0.2.11'];
export const N2_VALUES: readonly string[] = ['198.51.100.12'];

/** One trial's DNS: a zone of its own holding the app's record, pointing at N1. */
export interface TrialDns {
  readonly description: string;
  readonly provider: DnsProvider;
  readonly zoneId: string;
  /** The record the migration switches to N2. */
  readonly record: string;
  /** Points the record at N1 again. */
  resetRecord(): Promise<void>;
  /** Deletes the zone (Route 53) and releases clients. */
  dispose(): Promise<void>;
}

const n1Record = (name: string): DnsRecord => ({ name, type: 'A', ttl: 300, values: N1_VALUES });

/** A fresh zone for one trial: in memory, or a new hosted zone on Route 53 (or moto) with the real AWS SDK. */
export async function trialDns(cfg: ExperimentConfig['dns'], trial: number): Promise<TrialDns> {
  if (cfg.provider === 'memory') {
    const provider = new MemoryDnsProvider({ propagationMs: cfg.propagationMs });
    const zoneId = provider.createZone('example.test');
    const record = 'shop.example.test';
    const resetRecord = async (): Promise<void> => void (await provider.submit(zoneId, [{ action: 'UPSERT', record: n1Record(record) }]));
    await resetRecord();
    return { description: `in-memory (${cfg.propagationMs} ms to INSYNC)`, provider, zoneId, record, resetRecord, dispose: async () => {} };
  }
  const options = {
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    region: cfg.region,
    ...(cfg.credentials === 'mock' ? { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } } : {}),
  };
  const admin = new Route53Client(options);
  const reference = `northwest-experiment-t${trial}-${randomBytes(4).toString('hex')}`;
  let zoneId: string;
  try {
    const zone = await admin.send(
      new CreateHostedZoneCommand({ Name: cfg.zone, CallerReference: reference, HostedZoneConfig: { Comment: reference } }),
    );
    zoneId = zone.HostedZone?.Id ?? '';
    if (!zoneId) throw new Error('CreateHostedZone returned no zone id');
  } catch (err) {
    admin.destroy();
    throw new ExperimentError(
      'NW_EXP_DNS_SETUP_FAILED',
      `CreateHostedZone ${cfg.zone} at ${cfg.endpoint ?? 'Route 53'}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const provider = new Route53DnsProvider(options);
  const record = `shop.${cfg.zone.replace(/\.$/, '')}`;
  const resetRecord = async (): Promise<void> => void (await provider.submit(zoneId, [{ action: 'UPSERT', record: n1Record(record) }]));
  await resetRecord();
  return {
    description: `Route 53 at ${cfg.endpoint ?? 'AWS'} (hosted zone ${zoneId})`,
    provider,
    zoneId,
    record,
    resetRecord,
    async dispose() {
      try {
        // A hosted zone can only be deleted once it holds nothing but its SOA and NS records.
        const sets = (await admin.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }))).ResourceRecordSets ?? [];
        const extra = sets.filter((s) => s.Type !== 'SOA' && s.Type !== 'NS');
        if (extra.length)
          await admin.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zoneId,
              ChangeBatch: { Changes: extra.map((s) => ({ Action: 'DELETE', ResourceRecordSet: s })) },
            }),
          );
        await admin.send(new DeleteHostedZoneCommand({ Id: zoneId }));
      } finally {
        admin.destroy();
        provider.close();
      }
    },
  };
}
