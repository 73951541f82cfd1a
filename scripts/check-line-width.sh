#!/usr/bin/env bash
# Biome's formatter cannot break a long string, template or comment; this fails on any source line
# over the configured width (biome.json formatter.lineWidth), naming file and line.
set -euo pipefail
cd "$(dirname "$0")/.."
width=$(node -e 'process.stdout.write(String(require("./biome.json").formatter.lineWidth))')
over=$(git ls-files '*.ts' '*.cjs' '*.mjs' '*.sh' \
  | xargs awk -v w="$width" 'length > w { printf "%s:%d: %d characters\n", FILENAME, FNR, length }')
if [ -n "$over" ]; then
  echo "lines over $width characters:" >&2
  echo "$over" >&2
  exit 1
fi
