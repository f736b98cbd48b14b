#!/usr/bin/env bash
# The README's first command (as root, from a fresh clone): installs what is missing
# (Debian packages, npm packages, the native addon) and builds, then runs the two-cluster
# demo on this machine and removes it again. Flags go to the demo, e.g. --keep; see
#   node dist/loadtest/demo.js --help
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
# Node 24 first on PATH (from .runtime/ where the system Node is older).
. scripts/node-env.sh
exec node dist/loadtest/demo.js "$@"
