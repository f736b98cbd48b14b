#!/usr/bin/env bash
# Runs every test (unit, integration and lab tests; needs root), after installing what
# they need. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Node 24 first on PATH (from .runtime/ where the system Node is older).
. scripts/node-env.sh
# --test-timeout: a test that hangs fails after 5 min (the longest, a lab suite, takes about
# 1 min) instead of holding CI until its limit.
node --test --test-concurrency=1 --test-timeout=300000 $(find dist/test -name '*.test.js' | sort)
