/**
 * The DNS step of a migration talks to DNS through this interface only. Two
 * implementations: Route 53 (`route53-provider.ts`) and an in-memory one
 * (`memory-dns-provider.ts`) for the embedded control plane and unit tests.
 * Semantics follow Route 53: a batch of changes is applied atomically, CREATE
 * fails if the record exists, DELETE must name the record exactly as it is,
 * and a change is PENDING until it has propagated, then INSYNC.
 */

/** Record types the migration manages. */
export type DnsRecordType = 'A' | 'AAAA' | 'CNAME';

/** Fields every record has: its name and, for weighted routing, its set and weight. */
export interface DnsRecordBase {
  /** Fully-qualified name, lower case, with a trailing dot (see `normaliseDnsName`). */
  readonly name: string;
  /** Distinguishes the records of one weighted set (Route 53 SetIdentifier); with `weight`. */
  readonly setIdentifier?: string;
  /** Relative weight 0–255 of this record within its weighted set; with `setIdentifier`. */
  readonly weight?: number;
}

/** A record with its own values and TTL. */
export interface DnsValueRecord extends DnsRecordBase {
  readonly type: DnsRecordType;
  /** Seconds resolvers may cache the answer. */
  readonly ttl: number;
  readonly values: readonly string[];
}

/** Where a Route 53 alias record points. */
export interface DnsAliasTarget {
  readonly hostedZoneId: string;
  readonly dnsName: string;
  readonly evaluateTargetHealth: boolean;
}

/** A Route 53 alias record: no TTL or values of its own; answers with its target's. */
export interface DnsAliasRecord extends DnsRecordBase {
  readonly type: 'A' | 'AAAA';
  readonly alias: DnsAliasTarget;
}

/** One resource record set. */
export type DnsRecord = DnsValueRecord | DnsAliasRecord;

/** Names one record set: name + type, plus the set identifier for weighted records. */
export interface DnsRecordRef {
  readonly name: string;
  readonly type: DnsRecordType;
  readonly setIdentifier?: string;
}

/** One change of a batch. */
export interface DnsChange {
  readonly action: 'UPSERT' | 'DELETE' | 'CREATE';
  readonly record: DnsRecord;
}

/** Route 53's change status: PENDING until every authoritative server has the change. */
export type DnsChangeStatus = 'PENDING' | 'INSYNC';

/** What `submit` answers. */
export interface DnsSubmitResult {
  /** Pass to `getChangeStatus`. */
  readonly changeId: string;
  readonly status: DnsChangeStatus;
  /** ISO time the provider accepted the batch (the provider's clock). */
  readonly submittedAt: string;
}

/** A DNS service holding hosted zones. Errors are `ControlError`s with NW_CP_DNS_* codes. */
export interface DnsProvider {
  readonly kind: 'route53' | 'memory';
  /** Reads one record set; undefined if it does not exist. */
  getRecord(zoneId: string, name: string, type: DnsRecordType, setIdentifier?: string): Promise<DnsRecord | undefined>;
  /** Applies the changes as ONE atomic batch: all of them or none. */
  submit(zoneId: string, changes: readonly DnsChange[], comment?: string): Promise<DnsSubmitResult>;
  getChangeStatus(changeId: string): Promise<DnsChangeStatus>;
}

/** Time source and sleep, injectable so tests of the memory provider do not wait in real time. */
export interface DnsClock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: DnsClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export function isAliasRecord(record: DnsRecord): record is DnsAliasRecord {
  return 'alias' in record;
}

/**
 * Lower case, trailing dot, and Route 53's octal escapes decoded (it lists
 * `*.example.com` as `\052.example.com.`), so names compare as strings.
 */
export function normaliseDnsName(name: string): string {
  const decoded = name.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))).toLowerCase();
  return decoded.endsWith('.') ? decoded : `${decoded}.`;
}

/** A frozen copy with normalised names and without undefined optional fields. */
export function normaliseDnsRecord(record: DnsRecord): DnsRecord {
  const base: DnsRecordBase = {
    name: normaliseDnsName(record.name),
    ...(record.setIdentifier === undefined ? {} : { setIdentifier: record.setIdentifier }),
    ...(record.weight === undefined ? {} : { weight: record.weight }),
  };
  if (isAliasRecord(record)) {
    const alias = Object.freeze({ ...record.alias, dnsName: normaliseDnsName(record.alias.dnsName) });
    return Object.freeze({ ...base, type: record.type, alias });
  }
  return Object.freeze({ ...base, type: record.type, ttl: record.ttl, values: Object.freeze([...record.values]) });
}

/** The reference naming a record. */
export function dnsRecordRef(record: DnsRecord | DnsRecordRef): DnsRecordRef {
  const ref = { name: normaliseDnsName(record.name), type: record.type };
  return record.setIdentifier === undefined ? ref : { ...ref, setIdentifier: record.setIdentifier };
}

/** True if both describe the same record set with the same data (value order ignored, as Route 53 does). */
export function sameDnsRecord(a: DnsRecord, b: DnsRecord): boolean {
  const x = normaliseDnsRecord(a);
  const y = normaliseDnsRecord(b);
  if (x.name !== y.name || x.type !== y.type || x.setIdentifier !== y.setIdentifier || x.weight !== y.weight) return false;
  if (isAliasRecord(x) || isAliasRecord(y)) {
    return (
      isAliasRecord(x) &&
      isAliasRecord(y) &&
      x.alias.hostedZoneId.replace(/^\/hostedzone\//, '') === y.alias.hostedZoneId.replace(/^\/hostedzone\//, '') &&
      x.alias.dnsName === y.alias.dnsName &&
      x.alias.evaluateTargetHealth === y.alias.evaluateTargetHealth
    );
  }
  const sorted = (values: readonly string[]): string => JSON.stringify([...values].sort());
  return x.ttl === y.ttl && sorted(x.values) === sorted(y.values);
}

/** Human-readable name of a record for error messages and logs. */
export function describeDnsRecord(record: DnsRecord | DnsRecordRef): string {
  const set = record.setIdentifier === undefined ? '' : ` (set ${record.setIdentifier})`;
  return `${record.type} ${normaliseDnsName(record.name)}${set}`;
}
