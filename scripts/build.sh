#!/usr/bin/env bash
# The product build: TypeScript sources compiled to dist/ (plain ESM JavaScript with source maps)
# by tsc, the bin entries (northwest, northwest-gateway, northwest-loadgen, northwest-loadtest) made executable. Nothing else is bundled:
# dist/ runs on Node 24 with the package's own node_modules (npm ci --omit=dev is enough).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
npx tsc -p tsconfig.build.json
# The live dashboard's page, script and stylesheet are served as files, next to the module that reads them.
cp -R controlplane/admin/dashboard/assets dist/controlplane/admin/dashboard/
chmod +x dist/gateway/cli.js dist/controlplane/cli.js dist/loadgen/agents/loadgen-cli.js dist/loadgen/loadtest-cli.js
