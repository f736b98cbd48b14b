# kubelink image: one program, both controllers (--controllers=broker|router), as the
# manifests in k8s/ run it. Multi-stage: the builder compiles the native addon and the
# TypeScript; the runtime has only what runs (node, production modules, ip, iptables).
#
#   docker build -t registry.example.com/kubelink:0.1.0 .
#
# Builder and runtime share Debian bookworm and Node 24 (LTS), so the addon built here (N-API
# 8, against Node 24's headers, linked against bookworm's glibc) loads in the runtime
# unchanged. The builder is the full image because node-gyp needs python3, make and g++ (the
# slim image has none of them); the runtime is the slim one.

FROM node:24-bookworm AS builder
WORKDIR /src
# Fails the build early, naming the tool, if the base image ever stops shipping one.
RUN python3 --version && make --version >/dev/null && g++ --version >/dev/null && node --version
# node-gyp builds the addon against the headers of the node in this image instead of
# downloading them (the full node image ships them under /usr/local/include/node).
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
COPY native/ native/
# `npm ci` runs the package's install script: node-gyp rebuild --directory=native.
RUN npm ci
COPY tsconfig.json ./
COPY bin/ bin/
COPY src/ src/
RUN npm run build \
 && test -f dist/src/main/cli.js \
 && test -f native/build/Release/kubelink.node \
 && npm prune --omit=dev

FROM node:24-bookworm-slim
# iproute2: routes, TUN address and MTU (ip); iptables: the broker's SNAT rule. Debian's
# iptables is the nft backend by default; kube-proxy nodes on the legacy backend need
# `update-alternatives --set iptables /usr/sbin/iptables-legacy` in a derived image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=builder /src/package.json ./
COPY --from=builder /src/node_modules/ node_modules/
COPY --from=builder /src/dist/src/ dist/src/
COPY --from=builder /src/bin/ bin/
COPY --from=builder /src/native/build/Release/kubelink.node native/build/Release/kubelink.node
# Root on purpose: the broker opens /dev/net/tun and both controllers change the host's
# routes (hostNetwork); the manifests grant NET_ADMIN (router) or privileged (broker).
ENTRYPOINT ["node", "bin/kubelink.js"]
CMD ["--help"]
