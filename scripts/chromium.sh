#!/usr/bin/env bash
# Debian's Chromium for test/gateway/browser.test.ts, which drives it with playwright-core (an npm
# package that downloads no browser). Idempotent: a no-op once the binary is there.
#
# Environment: NW_CHROMIUM (the binary the test runs; default /usr/bin/chromium).
set -euo pipefail

CHROMIUM=${NW_CHROMIUM:-/usr/bin/chromium}
if [[ -x $CHROMIUM ]]; then exit 0; fi

SUDO=()
if [[ $EUID -ne 0 ]]; then SUDO=(sudo -n); fi
export DEBIAN_FRONTEND=noninteractive
echo "chromium.sh: installing Debian's chromium (apt-get)"
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium >/dev/null; then
  # A machine whose package lists are old or missing.
  "${SUDO[@]}" apt-get update -q >/dev/null
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
[[ -x $CHROMIUM ]] || { echo "chromium.sh: $CHROMIUM is still missing after the install" >&2; exit 1; }
