// Smoke test: the Route 53 endpoint (moto_server) from scripts/services.sh, through @aws-sdk/client-route-53.
import { strict as assert } from 'node:assert';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { eventually } from '../support/eventually.js';
import { requireService } from '../support/service-endpoints.js';

describe('services: Route 53 (moto)', function () {
  this.timeout(30_000);

  let client: Route53Client | undefined;
  const zoneName = `nw-smoke-${process.pid}-${Date.now()}.example.com.`;
  const recordName = `app.${zoneName}`;
  let zoneId: string | undefined;
  let record: ResourceRecordSet | undefined;

  before(() => {
    const r53 = requireService('route53');
    client = new Route53Client({
      endpoint: r53.endpoint,
      region: r53.region,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 2,
    });
  });

  after(async () => {
    if (client && zoneId) {
      if (record) {
        await client
          .send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zoneId,
              ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: record }] },
            }),
          )
          .catch(() => undefined);
      }
      await client.send(new DeleteHostedZoneCommand({ Id: zoneId })).catch(() => undefined);
    }
    client?.destroy();
  });

  it('creates a hosted zone, upserts an A record, waits for the change, lists it', async () => {
    assert.ok(client);
    const created = await client.send(
      new CreateHostedZoneCommand({ Name: zoneName, CallerReference: `northwest-smoke-${process.pid}-${Date.now()}` }),
    );
    zoneId = created.HostedZone?.Id;
    assert.ok(zoneId, 'hosted zone id');
    assert.equal(created.HostedZone?.Name, zoneName);

    record = { Name: recordName, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '127.0.0.10' }] };
    const changed = await client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Comment: 'northwest smoke test', Changes: [{ Action: 'UPSERT', ResourceRecordSet: record }] },
      }),
    );
    const changeId = changed.ChangeInfo?.Id;
    assert.ok(changeId, 'change id');
    assert.ok(['PENDING', 'INSYNC'].includes(changed.ChangeInfo?.Status ?? ''), `status ${changed.ChangeInfo?.Status}`);

    const statuses = [changed.ChangeInfo?.Status];
    if (statuses[0] !== 'INSYNC') {
      const r53 = client;
      await eventually(
        async () => {
          const got = await r53.send(new GetChangeCommand({ Id: changeId }));
          statuses.push(got.ChangeInfo?.Status);
          assert.equal(got.ChangeInfo?.Status, 'INSYNC');
        },
        { timeoutMs: 10_000, intervalMs: 200, message: `change ${changeId} INSYNC` },
      );
    }
    assert.ok(
      statuses.every((s) => s === 'PENDING' || s === 'INSYNC'),
      `statuses ${statuses.join(', ')}`,
    );

    const listed = await client.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: recordName, StartRecordType: 'A' }),
    );
    const found = listed.ResourceRecordSets?.find((r) => r.Name === recordName && r.Type === 'A');
    assert.ok(found, `A record ${recordName} listed; got ${JSON.stringify(listed.ResourceRecordSets)}`);
    assert.equal(found.TTL, 60);
    assert.deepEqual(
      found.ResourceRecords?.map((r) => r.Value),
      ['127.0.0.10'],
    );
  });
});
