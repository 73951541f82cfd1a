// A ZooKeeper coordinator needs credentials, or an explicit `insecure: true`: every config that can
// name one (gateway, control plane, experiment) refuses it otherwise with a typed error naming the
// file and the field, and the shipped configs authenticate with passwords from the environment.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../gateway/config/load-config.js';
import { loadControlPlaneConfig } from '../../controlplane/config.js';
import { loadExperimentConfig } from '../../loadgen/experiments/experiment-config.js';
import { createCoordinator } from '../../platform/coordinator/coordinator-config.js';

const ZK = '  kind: zookeeper\n  connectString: 127.0.0.1:21811\n';
/** A gateway config file whose fleet.coordinator section is `coordinator` (YAML lines indented by two). */
const gatewayYaml = (coordinator: string): string =>
  [
    'name: gw-a',
    'listeners: [{ host: 127.0.0.1, port: 0 }]',
    'fleet:',
    '  coordinator:',
    ...coordinator
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
    'apps:',
    '  shop:',
    '    hosts: [shop.test]',
    '    n1: { servers: [{ url: "http://127.0.0.1:1" }] }',
    '    n2: { servers: [{ url: "http://127.0.0.1:2" }] }',
    '',
  ].join('\n');

describe('coordinator credentials in config', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nw-zk-auth-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a gateway refuses an unauthenticated ZooKeeper coordinator unless it says insecure: true', () => {
    const path = file('gw-open.yaml', gatewayYaml(ZK));
    assert.throws(() => loadGatewayConfig(path), {
      code: 'NW_GW_CONFIG_INVALID',
      message: /gw-open\.yaml: fleet\.coordinator\.auth: required: .*or insecure: true/,
    });
    const insecure = loadGatewayConfig(file('gw-insecure.yaml', gatewayYaml(`${ZK}  insecure: true\n`)));
    assert.equal(createCoordinator(insecure.fleet!.coordinator, 'member', {}).kind, 'zookeeper');
    const both = file('gw-both.yaml', gatewayYaml(`${ZK}  insecure: true\n  auth: { user: m, passwordEnv: PW }\n`));
    assert.throws(() => loadGatewayConfig(both), { message: /gw-both\.yaml: fleet\.coordinator\.insecure: cannot be combined/ });
  });

  it('the password comes from the environment; a missing variable is a typed error naming it', () => {
    const cfg = loadGatewayConfig(file('gw-auth.yaml', gatewayYaml(`${ZK}  auth: { user: m, passwordEnv: NW_TEST_UNSET_PW }\n`)));
    assert.throws(() => createCoordinator(cfg.fleet!.coordinator, 'member', {}), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /coordinator\.auth\.passwordEnv: environment variable NW_TEST_UNSET_PW is not set/,
    });
    assert.equal(createCoordinator(cfg.fleet!.coordinator, 'member', { NW_TEST_UNSET_PW: 'pw' }).kind, 'zookeeper');
  });

  it("a control plane needs its own identity and the members' (to grant them access), or insecure: true", () => {
    const cp = (name: string, extra: string): string => file(name, `coordinator:\n${ZK}${extra}`);
    assert.throws(() => loadControlPlaneConfig(cp('cp-open.yaml', '')), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /cp-open\.yaml: coordinator\.auth: required/,
    });
    assert.throws(() => loadControlPlaneConfig(cp('cp-half.yaml', '  auth: { user: cp, passwordEnv: CP_PW }\n')), {
      code: 'NW_CP_CONFIG_INVALID',
      message: /cp-half\.yaml: coordinator\.members: required with auth/,
    });
    const full = loadControlPlaneConfig(
      cp('cp-full.yaml', '  auth: { user: cp, passwordEnv: CP_PW }\n  members: { user: m, passwordEnv: M_PW }\n'),
    );
    assert.throws(() => createCoordinator(full.coordinator, 'controlplane', { CP_PW: 'a' }), {
      message: /coordinator\.members\.passwordEnv: environment variable M_PW is not set/,
    });
    assert.equal(createCoordinator(full.coordinator, 'controlplane', { CP_PW: 'a', M_PW: 'b' }).kind, 'zookeeper');
    assert.equal(loadControlPlaneConfig(cp('cp-insecure.yaml', '  insecure: true\n')).coordinator.kind, 'zookeeper');
  });

  it('an experiment on ZooKeeper names both identities, or says insecure: true', () => {
    const exp = (name: string, extra: string): string => file(name, `coordinator:\n${ZK}${extra}`);
    assert.throws(() => loadExperimentConfig(exp('exp-open.yaml', '')), { message: /exp-open\.yaml: coordinator\.auth: required/ });
    assert.equal(loadExperimentConfig(exp('exp-insecure.yaml', '  insecure: true\n')).coordinator.kind, 'zookeeper');
  });

  it('every shipped config that uses ZooKeeper authenticates, with passwords from the environment', () => {
    const gw = loadGatewayConfig('configs/gateway.fleet.yaml').fleet!.coordinator;
    assert.ok(gw.kind === 'zookeeper' && gw.auth && !gw.insecure);
    assert.equal(gw.kind === 'zookeeper' && gw.auth?.passwordEnv, 'NW_ZK_MEMBER_PASSWORD');
    const cp = loadControlPlaneConfig('configs/controlplane.zookeeper.yaml').coordinator;
    assert.ok(cp.kind === 'zookeeper' && cp.auth && cp.members && !cp.insecure);
    assert.equal(
      cp.kind === 'zookeeper' && cp.members?.user,
      gw.kind === 'zookeeper' && gw.auth?.user,
      'the control plane grants the gateways’ identity',
    );
    for (const f of ['demo.services.yaml', 'experiment.services.yaml', 'experiment.cassandra.yaml']) {
      const c = loadExperimentConfig(join('configs', f)).coordinator;
      assert.ok(c.kind === 'zookeeper' && c.auth && !c.insecure, f);
    }
  });
});
