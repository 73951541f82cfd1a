import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  Route53ServiceException,
  type Route53ClientConfig,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { ControlError, isControlError, type ControlErrorCode } from '../errors.js';
import {
  isAliasRecord,
  normaliseDnsName,
  normaliseDnsRecord,
  type DnsChange,
  type DnsChangeStatus,
  type DnsProvider,
  type DnsRecord,
  type DnsRecordType,
  type DnsSubmitResult,
} from './dns-provider.js';

/**
 * How to reach Route 53. Anything left out comes from the standard AWS
 * configuration (environment, shared config/credentials files, instance role).
 */
export interface Route53ProviderOptions {
  /** Endpoint override, e.g. a local moto server; default the real Route 53. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: Route53ClientConfig['credentials'];
  /** SDK attempts per request, retries of throttling included (SDK default 3). */
  readonly maxAttempts?: number;
}

/** Route 53 error names → our codes; anything else is NW_CP_DNS_ERROR. */
const AWS_ERROR_CODES: Readonly<Record<string, ControlErrorCode>> = {
  NoSuchHostedZone: 'NW_CP_DNS_ZONE_NOT_FOUND',
  InvalidChangeBatch: 'NW_CP_DNS_INVALID_CHANGE',
  InvalidInput: 'NW_CP_DNS_INVALID_CHANGE',
  NoSuchHealthCheck: 'NW_CP_DNS_INVALID_CHANGE',
  Throttling: 'NW_CP_DNS_THROTTLED',
  ThrottlingException: 'NW_CP_DNS_THROTTLED',
  PriorRequestNotComplete: 'NW_CP_DNS_THROTTLED',
};

/** Turns whatever the SDK threw into a ControlError with an NW_CP_DNS_* code. */
export function toDnsError(err: unknown, operation: string, context: Record<string, unknown> = {}): ControlError {
  if (isControlError(err)) return err;
  if (err instanceof Route53ServiceException) {
    const messages = 'messages' in err && Array.isArray(err.messages) ? err.messages.map(String) : [];
    const detail = [err.message, ...messages].filter((m) => m !== '').join('; ');
    return new ControlError(AWS_ERROR_CODES[err.name] ?? 'NW_CP_DNS_ERROR', `${operation}: ${err.name}: ${detail}`, {
      cause: err,
      details: { ...context, awsCode: err.name, httpStatus: err.$metadata.httpStatusCode, requestId: err.$metadata.requestId },
    });
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new ControlError('NW_CP_DNS_ERROR', `${operation}: ${message}`, { cause: err, details: context });
}

function toAws(record: DnsRecord): ResourceRecordSet {
  const r = normaliseDnsRecord(record);
  const weighted = r.setIdentifier === undefined ? {} : { SetIdentifier: r.setIdentifier, Weight: r.weight };
  if (isAliasRecord(r)) {
    const { hostedZoneId, dnsName, evaluateTargetHealth } = r.alias;
    return {
      Name: r.name,
      Type: r.type,
      ...weighted,
      AliasTarget: { HostedZoneId: hostedZoneId, DNSName: dnsName, EvaluateTargetHealth: evaluateTargetHealth },
    };
  }
  return { Name: r.name, Type: r.type, ...weighted, TTL: r.ttl, ResourceRecords: r.values.map((Value) => ({ Value })) };
}

function fromAws(set: ResourceRecordSet, type: DnsRecordType): DnsRecord {
  const base = {
    name: normaliseDnsName(set.Name ?? ''),
    ...(set.SetIdentifier === undefined ? {} : { setIdentifier: set.SetIdentifier }),
    ...(set.Weight === undefined ? {} : { weight: set.Weight }),
  };
  if (set.AliasTarget !== undefined && type !== 'CNAME') {
    const { HostedZoneId, DNSName, EvaluateTargetHealth } = set.AliasTarget;
    return normaliseDnsRecord({
      ...base,
      type,
      alias: { hostedZoneId: HostedZoneId ?? '', dnsName: DNSName ?? '', evaluateTargetHealth: EvaluateTargetHealth ?? false },
    });
  }
  return normaliseDnsRecord({ ...base, type, ttl: set.TTL ?? 0, values: (set.ResourceRecords ?? []).map((rr) => rr.Value ?? '') });
}

function toStatus(status: string | undefined, operation: string): DnsChangeStatus {
  if (status === 'PENDING' || status === 'INSYNC') return status;
  throw new ControlError('NW_CP_DNS_ERROR', `${operation}: unexpected change status ${JSON.stringify(status)}`);
}

/** A DnsProvider on Amazon Route 53 (or an API-compatible server such as moto). */
export class Route53DnsProvider implements DnsProvider {
  readonly kind = 'route53' as const;
  private readonly client: Route53Client;

  constructor(options: Route53ProviderOptions = {}) {
    const config: Route53ClientConfig = {};
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.region !== undefined) config.region = options.region;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
    this.client = new Route53Client(config);
  }

  /** Releases the SDK's sockets. */
  close(): void {
    this.client.destroy();
  }

  async getRecord(zoneId: string, name: string, type: DnsRecordType, setIdentifier?: string): Promise<DnsRecord | undefined> {
    const wanted = normaliseDnsName(name);
    // Listing starts at (name, type). A simple record is the first entry; the sets of a
    // weighted record follow one another, paged by StartRecordIdentifier.
    let startIdentifier: string | undefined;
    for (;;) {
      const page = await this.client
        .send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            StartRecordName: wanted,
            StartRecordType: type,
            StartRecordIdentifier: startIdentifier,
            MaxItems: setIdentifier === undefined ? 1 : 100,
          }),
        )
        .catch((err: unknown) => {
          throw toDnsError(err, 'ListResourceRecordSets', { zoneId, name: wanted, type });
        });
      for (const set of page.ResourceRecordSets ?? []) {
        if (normaliseDnsName(set.Name ?? '') !== wanted || set.Type !== type) return undefined;
        if (set.SetIdentifier === setIdentifier) return fromAws(set, type);
      }
      const more =
        page.IsTruncated === true &&
        page.NextRecordIdentifier !== undefined &&
        page.NextRecordIdentifier !== startIdentifier &&
        normaliseDnsName(page.NextRecordName ?? '') === wanted &&
        page.NextRecordType === type;
      if (!more) return undefined;
      startIdentifier = page.NextRecordIdentifier;
    }
  }

  async submit(zoneId: string, changes: readonly DnsChange[], comment?: string): Promise<DnsSubmitResult> {
    const out = await this.client
      .send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Comment: comment, Changes: changes.map((c) => ({ Action: c.action, ResourceRecordSet: toAws(c.record) })) },
        }),
      )
      .catch((err: unknown) => {
        throw toDnsError(err, 'ChangeResourceRecordSets', { zoneId, changes: changes.length });
      });
    const info = out.ChangeInfo;
    if (info?.Id === undefined) throw new ControlError('NW_CP_DNS_ERROR', 'ChangeResourceRecordSets: no change id in the answer');
    return {
      changeId: info.Id,
      status: toStatus(info.Status, 'ChangeResourceRecordSets'),
      submittedAt: (info.SubmittedAt ?? new Date()).toISOString(),
    };
  }

  async getChangeStatus(changeId: string): Promise<DnsChangeStatus> {
    const out = await this.client.send(new GetChangeCommand({ Id: changeId })).catch((err: unknown) => {
      throw toDnsError(err, 'GetChange', { changeId });
    });
    return toStatus(out.ChangeInfo?.Status, 'GetChange');
  }
}
