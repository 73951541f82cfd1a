// The Route 53 DNS provider and the cutover operations against the Route 53 endpoint (moto_server)
// from scripts/services.sh, through the real @aws-sdk/client-route-53. Fails if the service is not up.
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { isControlError, type ControlError, type ControlErrorCode } from '../../controlplane/errors.js';
import type { DnsProvider, DnsRecord, DnsValueRecord } from '../../controlplane/dns/dns-provider.js';
import { Route53DnsProvider, type Route53ProviderOptions } from '../../controlplane/dns/route53-provider.js';
import { lowerTtl, restoreRecords, shiftWeights, snapshotRecords, switchRecords } from '../../controlplane/dns/dns-cutover.js';
import { eventually } from '../support/eventually.js';
import { requireService } from '../support/service-endpoints.js';

const N1 = '192.0.2.1';
const N2 = '198.51.100.2';
const WAIT = { pollMs: 100, timeoutMs: 10_000 };

async function rejectsWith(promise: Promise<unknown>, code: ControlErrorCode): Promise<ControlError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isControlError(err, code), `expected ${code}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** A loopback port that nothing listens on (bound on port 0, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('controlplane/dns: Route53DnsProvider against the Route 53 endpoint (moto)', function () {
  this.timeout(30_000);

  const zoneName = `nw-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.test.`;
  let options: Route53ProviderOptions;
  let admin: Route53Client;
  let dns: Route53DnsProvider;
  let zoneId = '';
  const name = (label: string): string => `${label}.${zoneName}`;
  const simple = (label: string, values: string[], ttl: number): DnsValueRecord => ({ name: name(label), type: 'A', ttl, values });

  before(async () => {
    const r53 = requireService('route53');
    options = {
      endpoint: r53.endpoint,
      region: r53.region,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 2,
    };
    admin = new Route53Client(options);
    dns = new Route53DnsProvider(options);
    const created = await admin.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: `northwest-dns-${zoneName}` }));
    zoneId = created.HostedZone?.Id ?? '';
    assert.ok(zoneId, 'hosted zone id');
  });

  after(async () => {
    if (zoneId) {
      const listed = await admin.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
      for (const set of listed.ResourceRecordSets ?? []) {
        if (set.Type === 'NS' || set.Type === 'SOA') continue;
        await admin.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: set }] },
          }),
        );
      }
      await admin.send(new DeleteHostedZoneCommand({ Id: zoneId }));
    }
    admin?.destroy();
    dns?.close();
  });

  it('submits a batch and reports PENDING or INSYNC, then INSYNC', async () => {
    const out = await dns.submit(zoneId, [{ action: 'CREATE', record: simple('status', [N1], 60) }], 'northwest test');
    assert.ok(out.status === 'PENDING' || out.status === 'INSYNC', out.status);
    assert.ok(!Number.isNaN(Date.parse(out.submittedAt)), out.submittedAt);
    if (out.status !== 'INSYNC') {
      await eventually(async () => assert.equal(await dns.getChangeStatus(out.changeId), 'INSYNC'), {
        timeoutMs: WAIT.timeoutMs,
        intervalMs: WAIT.pollMs,
        message: `change ${out.changeId} INSYNC`,
      });
    }
    assert.deepEqual(await dns.getRecord(zoneId, name('status'), 'A'), simple('status', [N1], 60));
    assert.equal(await dns.getRecord(zoneId, name('status'), 'AAAA'), undefined);
    assert.equal(await dns.getRecord(zoneId, name('absent'), 'A'), undefined);
  });

  it('lowers the TTL, switches N1 to N2 in one batch, and restores N1', async () => {
    await dns.submit(zoneId, [{ action: 'CREATE', record: simple('app', [N1], 300) }]);

    const lowered = await lowerTtl(dns, zoneId, { name: name('app'), type: 'A' }, 5, WAIT);
    assert.equal(lowered.changed, true);
    assert.equal(lowered.previousTtl, 300);
    assert.equal(Date.parse(lowered.mustWaitUntil) - Date.parse(lowered.insyncAt), 300_000);
    assert.deepEqual(await dns.getRecord(zoneId, name('app'), 'A'), simple('app', [N1], 5));

    const before = await snapshotRecords(dns, zoneId, [{ name: name('app'), type: 'A' }]);
    const switched = await switchRecords(dns, zoneId, [{ action: 'UPSERT', record: simple('app', [N2], 5) }], WAIT);
    assert.ok(switched.polls >= 0 && switched.submitToInsyncMs >= 0);
    assert.equal(Date.parse(switched.insyncAt) - Date.parse(switched.submittedAt), switched.submitToInsyncMs);
    assert.deepEqual(await dns.getRecord(zoneId, name('app'), 'A'), simple('app', [N2], 5));

    const restored = await restoreRecords(dns, zoneId, before, WAIT);
    assert.ok(restored.change, 'a restore batch was sent');
    assert.deepEqual(await dns.getRecord(zoneId, name('app'), 'A'), simple('app', [N1], 5));
  });

  it('shifts weighted records 10 -> 50 -> 100 and restores the simple record', async () => {
    await dns.submit(zoneId, [{ action: 'CREATE', record: simple('w', [N1], 5) }]);
    const spec = {
      name: name('w'),
      type: 'A' as const,
      ttl: 5,
      n1: { setIdentifier: 'w-n1', values: [N1] },
      n2: { setIdentifier: 'w-n2', values: [N2] },
    };
    // Read both weighted sets back from the server right after each step's batch.
    const weights: [number | undefined, number | undefined][] = [];
    const probe: DnsProvider = {
      kind: dns.kind,
      getRecord: (...args) => dns.getRecord(...args),
      getChangeStatus: (id) => dns.getChangeStatus(id),
      submit: async (...args) => {
        const out = await dns.submit(...args);
        const [n1, n2] = await Promise.all([dns.getRecord(zoneId, spec.name, 'A', 'w-n1'), dns.getRecord(zoneId, spec.name, 'A', 'w-n2')]);
        weights.push([n1?.weight, n2?.weight]);
        return out;
      },
    };
    const result = await shiftWeights(probe, zoneId, spec, [10, 50, 100], { ...WAIT, holdMs: 10 });
    assert.deepEqual(weights, [
      [90, 10],
      [50, 50],
      [0, 100],
    ]);
    assert.deepEqual(
      result.steps.map((s) => [s.percentToN2, s.n1Weight, s.n2Weight]),
      [
        [10, 90, 10],
        [50, 50, 50],
        [100, 0, 100],
      ],
    );
    assert.deepEqual(
      result.steps.map((s) => s.heldMs),
      [10, 10, 0],
    );
    assert.equal(await dns.getRecord(zoneId, name('w'), 'A'), undefined);
    const n1 = await dns.getRecord(zoneId, name('w'), 'A', 'w-n1');
    const n2 = await dns.getRecord(zoneId, name('w'), 'A', 'w-n2');
    assert.deepEqual(n1, { ...simple('w', [N1], 5), setIdentifier: 'w-n1', weight: 0 });
    assert.deepEqual(n2, { ...simple('w', [N2], 5), setIdentifier: 'w-n2', weight: 100 });

    const restored = await restoreRecords(dns, zoneId, result.before, WAIT);
    assert.deepEqual(
      restored.deleted.map((r) => r.setIdentifier),
      ['w-n1', 'w-n2'],
    );
    assert.deepEqual(await dns.getRecord(zoneId, name('w'), 'A'), simple('w', [N1], 5));
    assert.equal(await dns.getRecord(zoneId, name('w'), 'A', 'w-n1'), undefined);
    assert.equal(await dns.getRecord(zoneId, name('w'), 'A', 'w-n2'), undefined);
  });

  it('upserts an alias record to another record in the zone', async () => {
    await dns.submit(zoneId, [{ action: 'CREATE', record: simple('target', [N2], 60) }]);
    const bareZoneId = zoneId.replace(/^\/hostedzone\//, '');
    const alias: DnsRecord = {
      name: name('www'),
      type: 'A',
      alias: { hostedZoneId: bareZoneId, dnsName: name('target'), evaluateTargetHealth: false },
    };
    await switchRecords(dns, zoneId, [{ action: 'UPSERT', record: alias }], WAIT);
    assert.deepEqual(await dns.getRecord(zoneId, name('www'), 'A'), alias);
  });

  it('maps an unknown zone to NW_CP_DNS_ZONE_NOT_FOUND', async () => {
    await rejectsWith(dns.getRecord('ZNOSUCHZONE0000', name('app'), 'A'), 'NW_CP_DNS_ZONE_NOT_FOUND');
    const err = await rejectsWith(
      dns.submit('ZNOSUCHZONE0000', [{ action: 'UPSERT', record: simple('app', [N1], 60) }]),
      'NW_CP_DNS_ZONE_NOT_FOUND',
    );
    assert.equal(err.status, 404);
    assert.equal(err.details?.awsCode, 'NoSuchHostedZone');
  });

  it('maps an invalid batch to NW_CP_DNS_INVALID_CHANGE and applies none of it', async () => {
    await dns.submit(zoneId, [{ action: 'CREATE', record: simple('keep', [N1], 60) }]);
    const batch = [
      { action: 'UPSERT' as const, record: simple('keep', [N2], 60) },
      { action: 'DELETE' as const, record: simple('never-created', [N1], 60) },
    ];
    const err = await rejectsWith(dns.submit(zoneId, batch), 'NW_CP_DNS_INVALID_CHANGE');
    assert.equal(err.status, 400);
    assert.deepEqual(await dns.getRecord(zoneId, name('keep'), 'A'), simple('keep', [N1], 60));
    await rejectsWith(dns.submit(zoneId, [{ action: 'CREATE', record: simple('keep', [N1], 60) }]), 'NW_CP_DNS_INVALID_CHANGE');
    await rejectsWith(
      dns.submit(zoneId, [{ action: 'UPSERT', record: { name: 'app.elsewhere.test.', type: 'A', ttl: 60, values: [N1] } }]),
      'NW_CP_DNS_INVALID_CHANGE',
    );
  });

  it('maps an unreachable endpoint to NW_CP_DNS_ERROR', async () => {
    const down = new Route53DnsProvider({ ...options, endpoint: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 1 });
    try {
      const err = await rejectsWith(down.getChangeStatus('/change/C0000000000000'), 'NW_CP_DNS_ERROR');
      assert.equal(err.status, 502);
    } finally {
      down.close();
    }
  });
});
