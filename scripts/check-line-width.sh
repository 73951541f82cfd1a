#!/usr/bin/env bash
# Biome's formatter cannot break a long string, template or comment; this fails on any source line
# over the configured width (biome.json formatter.lineWidth), naming file and line. It counts
# characters, as Biome does (not bytes: '→' is one).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.ts' '*.cjs' '*.mjs' '*.sh' | node -e '
const { readFileSync } = require("node:fs");
const width = require("./biome.json").formatter.lineWidth;
const files = readFileSync(0, "utf8").split("\n").filter(Boolean);
const over = [];
for (const file of files) {
  readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    const n = [...line].length;
    if (n > width) over.push(`${file}:${i + 1}: ${n} characters`);
  });
}
if (over.length) {
  process.stderr.write(`lines over ${width} characters:\n${over.join("\n")}\n`);
  process.exit(1);
}
'
