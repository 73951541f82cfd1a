#!/usr/bin/env bash
# The one command that runs every test: typecheck, start the real services
# (ZooKeeper ensemble, Redis, Route 53 on moto, two Cassandra clusters) on
# loopback, install Debian's Chromium if missing (the browser test), run mocha,
# stop the services again.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund

echo "== typecheck"
npx tsc --noEmit -p tsconfig.json

echo "== dependency rules"
npm run -s lint:deps

echo "== format and lint (Biome)"
npm run -s lint

echo "== browser (Chromium for test/gateway/browser.test.ts)"
bash scripts/chromium.sh

echo "== services"
bash scripts/services.sh up
if [ "${NW_KEEP_SERVICES:-}" != "1" ]; then
  trap 'bash scripts/services.sh down >/dev/null 2>&1 || true' EXIT
fi

echo "== tests"
# These two restart the shared Cassandra (and Redis), so each runs alone, before the rest. The
# first kills a Cassandra node mid-copy; afterwards cassandra-driver can keep a reconnecting
# socket open past Client.shutdown() now and then, so it alone runs with --exit (every other file
# must let mocha end by itself). The second is the fault campaign's Cassandra variant. Then the
# gateway suites on the node engine (the default is raw: both engines stay whole). They run first
# so the closing summary line is the whole suite's.
if [ $# -eq 0 ]; then
  npx mocha --exit test/datasync/snapshot-restart.test.ts
  npx mocha test/loadgen/chaos-cassandra.test.ts
  # The replicate strategy's suites start (and stop) their own two-datacenter Cassandra
  # (scripts/cassandra-dc.sh, 127.0.0.4/.5) and run for minutes; also `npm run test:cassandra-dc`.
  # The second runs its control planes as processes and kills the leader (SIGKILL) mid-rebuild.
  npx mocha --exit test/controlplane/replicate-migration.test.ts
  npx mocha test/controlplane/replicate-leader-kill.test.ts
  echo "== gateway tests on the node engine"
  NW_TEST_ENGINE=node npx mocha 'test/gateway/*.test.ts'
fi
npx mocha 'test/**/*.test.ts' --ignore test/datasync/snapshot-restart.test.ts --ignore test/loadgen/chaos-cassandra.test.ts \
  --ignore test/controlplane/replicate-migration.test.ts --ignore test/controlplane/replicate-leader-kill.test.ts "$@"
