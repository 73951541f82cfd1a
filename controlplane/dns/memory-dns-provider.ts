import { isIPv4, isIPv6 } from 'node:net';
import { ControlError } from '../errors.js';
import {
  describeDnsRecord,
  dnsRecordRef,
  isAliasRecord,
  normaliseDnsName,
  normaliseDnsRecord,
  sameDnsRecord,
  systemClock,
  type DnsChange,
  type DnsChangeStatus,
  type DnsClock,
  type DnsProvider,
  type DnsRecord,
  type DnsRecordRef,
  type DnsRecordType,
  type DnsSubmitResult,
} from './dns-provider.js';

/** Options of the in-memory DNS provider. */
export interface MemoryDnsProviderOptions {
  /** How long a change stays PENDING before it is INSYNC (ms, default 0: INSYNC at once). */
  readonly propagationMs?: number;
  /** Time source (default the system clock). */
  readonly clock?: Pick<DnsClock, 'now'>;
}

interface Zone {
  readonly name: string;
  records: Map<string, DnsRecord>;
}

const MAX_TTL = 2_147_483_647;

function key(ref: DnsRecordRef): string {
  return `${ref.name}|${ref.type}|${ref.setIdentifier ?? ''}`;
}

function invalid(detail: string): ControlError {
  return new ControlError('NW_CP_DNS_INVALID_CHANGE', detail);
}

function zoneIdOf(id: string): string {
  return id.replace(/^\/hostedzone\//, '');
}

/** Throws NW_CP_DNS_INVALID_CHANGE for what Route 53 would refuse in the record itself. */
function validateRecord(record: DnsRecord, zoneName: string): void {
  const what = describeDnsRecord(record);
  if (record.name !== zoneName && !record.name.endsWith(`.${zoneName}`)) throw invalid(`${what} is not in zone ${zoneName}`);
  if ((record.setIdentifier === undefined) !== (record.weight === undefined))
    throw invalid(`${what}: setIdentifier and weight go together`);
  if (record.weight !== undefined && !(Number.isInteger(record.weight) && record.weight >= 0 && record.weight <= 255)) {
    throw invalid(`${what}: weight ${record.weight} is not an integer 0-255`);
  }
  if (isAliasRecord(record)) {
    if (record.alias.dnsName === '.' || record.alias.hostedZoneId === '') throw invalid(`${what}: alias target is incomplete`);
    return;
  }
  if (!Number.isInteger(record.ttl) || record.ttl < 0 || record.ttl > MAX_TTL) throw invalid(`${what}: TTL ${record.ttl} is out of range`);
  if (record.values.length === 0) throw invalid(`${what}: no values`);
  const valid: Record<DnsRecordType, (v: string) => boolean> = { A: isIPv4, AAAA: isIPv6, CNAME: (v) => v.length > 0 };
  const bad = record.values.find((v) => !valid[record.type](v));
  if (bad !== undefined) throw invalid(`${what}: ${JSON.stringify(bad)} is not a valid ${record.type} value`);
  if (record.type === 'CNAME' && record.values.length !== 1) throw invalid(`${what}: a CNAME has exactly one value`);
  if (record.type === 'CNAME' && record.name === zoneName) throw invalid(`${what}: no CNAME at the zone apex`);
}

/** Throws if `record` cannot live next to the other record sets of its name (Route 53's rules). */
function checkConflicts(records: Map<string, DnsRecord>, record: DnsRecord): void {
  for (const other of records.values()) {
    if (other.name !== record.name || key(dnsRecordRef(other)) === key(dnsRecordRef(record))) continue;
    if (other.type === 'CNAME' || record.type === 'CNAME') {
      if (other.type !== record.type) throw invalid(`${describeDnsRecord(record)} conflicts with ${describeDnsRecord(other)}`);
    }
    if (other.type === record.type && (other.setIdentifier === undefined) !== (record.setIdentifier === undefined)) {
      throw invalid(
        `${describeDnsRecord(record)} conflicts with ${describeDnsRecord(other)}: simple and weighted records cannot share a name and type`,
      );
    }
  }
}

/**
 * The embedded DNS: hosted zones in a map, Route 53's batch semantics, and a
 * configurable propagation delay so the DNS phase's polling can be exercised.
 */
export class MemoryDnsProvider implements DnsProvider {
  readonly kind = 'memory' as const;
  private readonly zones = new Map<string, Zone>();
  private readonly changes = new Map<string, number>();
  private readonly propagationMs: number;
  private readonly clock: Pick<DnsClock, 'now'>;
  private nextZone = 1;
  private nextChange = 1;

  constructor(options: MemoryDnsProviderOptions = {}) {
    this.propagationMs = options.propagationMs ?? 0;
    if (!Number.isFinite(this.propagationMs) || this.propagationMs < 0)
      throw new RangeError(`propagationMs must be >= 0, got ${this.propagationMs}`);
    this.clock = options.clock ?? systemClock;
  }

  /** Creates a hosted zone and returns its id. */
  createZone(name: string): string {
    const id = `ZMEM${String(this.nextZone++).padStart(8, '0')}`;
    this.zones.set(id, { name: normaliseDnsName(name), records: new Map() });
    return id;
  }

  deleteZone(zoneId: string): void {
    this.zone(zoneId);
    this.zones.delete(zoneIdOf(zoneId));
  }

  /** Every record set in the zone, sorted by name, type and set. */
  listRecords(zoneId: string): DnsRecord[] {
    return [...this.zone(zoneId).records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }

  async getRecord(zoneId: string, name: string, type: DnsRecordType, setIdentifier?: string): Promise<DnsRecord | undefined> {
    const ref = setIdentifier === undefined ? { name, type } : { name, type, setIdentifier };
    return this.zone(zoneId).records.get(key(dnsRecordRef(ref)));
  }

  async submit(zoneId: string, changes: readonly DnsChange[], _comment?: string): Promise<DnsSubmitResult> {
    const zone = this.zone(zoneId);
    if (changes.length === 0) throw invalid('empty change batch');
    // Apply to a copy and swap only if every change succeeds: the batch is atomic.
    const next = new Map(zone.records);
    for (const change of changes) {
      const record = normaliseDnsRecord(change.record);
      validateRecord(record, zone.name);
      const k = key(dnsRecordRef(record));
      const existing = next.get(k);
      if (change.action === 'DELETE') {
        if (existing === undefined) throw invalid(`cannot delete ${describeDnsRecord(record)}: it does not exist`);
        if (!sameDnsRecord(existing, record)) throw invalid(`cannot delete ${describeDnsRecord(record)}: values do not match the record`);
        next.delete(k);
        continue;
      }
      if (change.action === 'CREATE' && existing !== undefined)
        throw invalid(`cannot create ${describeDnsRecord(record)}: it already exists`);
      checkConflicts(next, record);
      next.set(k, record);
    }
    zone.records = next;
    const submittedAtMs = this.clock.now();
    const changeId = `/change/CMEM${String(this.nextChange++).padStart(8, '0')}`;
    this.changes.set(changeId, submittedAtMs);
    return { changeId, status: this.statusAt(submittedAtMs), submittedAt: new Date(submittedAtMs).toISOString() };
  }

  async getChangeStatus(changeId: string): Promise<DnsChangeStatus> {
    const id = changeId.startsWith('/change/') ? changeId : `/change/${changeId}`;
    const submittedAtMs = this.changes.get(id);
    if (submittedAtMs === undefined) throw new ControlError('NW_CP_DNS_ERROR', `no such change ${changeId}`);
    return this.statusAt(submittedAtMs);
  }

  private statusAt(submittedAtMs: number): DnsChangeStatus {
    return this.clock.now() - submittedAtMs >= this.propagationMs ? 'INSYNC' : 'PENDING';
  }

  private zone(zoneId: string): Zone {
    const zone = this.zones.get(zoneIdOf(zoneId));
    if (zone === undefined) throw new ControlError('NW_CP_DNS_ZONE_NOT_FOUND', zoneId);
    return zone;
  }
}
