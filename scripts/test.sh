#!/usr/bin/env bash
# The one command that runs every test: typecheck, start the real services
# (ZooKeeper ensemble, Redis, Route 53 on moto, two Cassandra clusters) on
# loopback, run mocha, stop the services again.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json

echo "== dependency rules"
npm run -s lint:deps

echo "== format and lint (Biome)"
npm run -s lint

echo "== services"
bash scripts/services.sh up
if [ "${NW_KEEP_SERVICES:-}" != "1" ]; then
  trap 'bash scripts/services.sh down >/dev/null 2>&1 || true' EXIT
fi

echo "== tests"
npx mocha 'test/**/*.test.ts' "$@"
