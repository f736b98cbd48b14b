#!/usr/bin/env bash
# Runs every test (unit, integration and lab tests; needs root), after installing what
# they need. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Node 24 first on PATH (from .runtime/ where the system Node is older).
. scripts/node-env.sh
node --test --test-concurrency=1 $(find dist/test -name '*.test.js' | sort)
