#!/usr/bin/env bash
# Builds dist/ when it is missing or older than any source.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f dist/server.js ] || [ -n "$(find app.ts server.ts src scripts -name '*.ts' -newer dist/server.js -print -quit)" ]; then
  npx tsc -p tsconfig.build.json
fi
