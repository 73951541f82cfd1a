// The house rules (docs/architecture.md, "Layout"): dependencies point one way.
//   protocol  <- platform <- fleet <- gateway, datasync <- controlplane (copy jobs only) ; loadgen uses index.ts entries
// Run by `npm test` (npm run lint:deps); a forbidden edge or any circle fails it.
const ours = '(protocol|platform|fleet|gateway|datasync|controlplane|loadgen)';
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import circles anywhere.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    forbid(
      'protocol-imports-nothing',
      'protocol/ is the contract: zod only, nothing of ours.',
      '^protocol/',
      `^(platform|fleet|gateway|datasync|controlplane|loadgen)/`,
    ),
    forbid(
      'platform-uses-protocol-only',
      'platform/ may use protocol/ only.',
      '^platform/',
      `^(fleet|gateway|datasync|controlplane|loadgen)/`,
    ),
    forbid(
      'fleet-uses-platform-protocol',
      'fleet/ may use protocol/ and platform/ only.',
      '^fleet/',
      `^(gateway|datasync|controlplane|loadgen)/`,
    ),
    forbid(
      'gateway-not-controlplane',
      'The gateway and the control plane never import each other; the gateway uses fleet/, platform/, protocol/.',
      '^gateway/',
      `^(datasync|controlplane|loadgen)/`,
    ),
    forbid(
      'datasync-not-gateway-controlplane',
      'datasync/ uses fleet/, platform/, protocol/ only.',
      '^datasync/',
      `^(gateway|controlplane|loadgen)/`,
    ),
    forbid(
      'controlplane-not-gateway',
      'The control plane decides and never imports the gateway or the data layer (datasync/layer/); it may run datasync copy jobs.',
      '^controlplane/',
      `^(gateway|loadgen|datasync/layer)/`,
    ),
    {
      name: 'loadgen-public-entries-only',
      comment: 'loadgen/ imports the other parts only through their index.ts.',
      severity: 'error',
      from: { path: '^loadgen/' },
      to: { path: `^${ours}/`, pathNot: [`^${ours}/index\\.ts$`, '^loadgen/'] },
    },
    {
      name: 'not-to-test',
      comment: 'Product code never imports the tests.',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|\\.services|results)/' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.d.ts', '.cjs', '.json'] },
  },
};
