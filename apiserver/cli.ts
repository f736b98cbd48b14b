#!/usr/bin/env node
// Command line of the kubelink test API server:
//   node dist/apiserver/cli.js --listen 127.0.0.1:0 --kubeconfig-out PATH [--data-file PATH] [--tls]
// Prints one JSON line {"event":"ready","url":...} on stdout when it serves; logs go to stderr.

import { createLogger, isLogLevel } from '../src/shared/log.js';
import { startApiServer, type ApiServerOptions } from './server.js';

const USAGE = `usage: kubelink-test-apiserver [flags]
  --listen HOST:PORT          address to serve on (default 127.0.0.1:0; port 0 picks a free one)
  --advertise-host HOST       host written into the kubeconfig URL (default: the listen host)
  --kubeconfig-out PATH       write a kubeconfig for this server to PATH (default: a temp file, printed)
  --data-file PATH            keep all objects in PATH (rewritten on every change, loaded at start)
  --tls                       serve HTTPS with a generated CA (embedded in the kubeconfig)
  --watch-history N           change events kept for resuming watches (default 1000)
  --bookmark-interval-ms N    BOOKMARK interval for watches that allow them (default 30000)
  --service-cidr CIDR         range for Service cluster IPs (default 10.96.0.0/16)
  --log-level LEVEL           debug|info|warn|error (default info; debug logs every request)
  --help`;

function parseListen(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  if (!m) throw new Error(`--listen wants HOST:PORT, got "${text}"`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

function parseArgs(argv: string[]): { options: ApiServerOptions; logLevel: string } | 'help' {
  const options: ApiServerOptions = {};
  let logLevel = 'info';
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      if (eq > 0) return raw.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    const count = (): number => {
      const text = value();
      if (!/^\d+$/.test(text)) throw new Error(`${flag} wants a number, got "${text}"`);
      return Number(text);
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--listen':
        Object.assign(options, parseListen(value()));
        break;
      case '--advertise-host':
        options.advertiseHost = value();
        break;
      case '--kubeconfig-out':
        options.kubeconfigPath = value();
        break;
      case '--data-file':
        options.dataFile = value();
        break;
      case '--tls':
        options.tls = eq > 0 ? value() !== 'false' : true;
        break;
      case '--watch-history':
        options.watchHistorySize = count();
        break;
      case '--bookmark-interval-ms':
        options.watchBookmarkIntervalMs = count();
        break;
      case '--service-cidr':
        options.serviceClusterIpRange = value();
        break;
      case '--log-level':
        logLevel = value();
        if (!isLogLevel(logLevel)) throw new Error(`--log-level: unknown level "${logLevel}"`);
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  return { options, logLevel };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logger = createLogger({ level: parsed.logLevel as 'info' }).child({ component: 'test-apiserver' });
  const server = await startApiServer({ ...parsed.options, logger });
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: server.url, port: server.port, kubeconfig: server.kubeconfigPath })}\n`);
  const stop = (signal: string): void => {
    logger.info('stopping', { signal });
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'test api server failed', err: String((err as Error)?.stack ?? err) })}\n`);
  process.exit(1);
});
