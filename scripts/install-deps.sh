#!/usr/bin/env bash
# Installs what kubelink's lab, tests and demo need on a fresh Debian machine (as root):
# Debian packages (iproute2, iptables, iperf3, openvpn, ping, kubectl, wget) when missing, the
# npm packages (which builds the native addon against the local Node headers), and the
# TypeScript build. Safe to run again: it skips what is present.
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun; }

if [ ! -f native/build/Release/kubelink.node ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci (builds the native addon)"
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
