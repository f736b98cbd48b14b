// startApiServer(): the kubelink test API server as a library, for tests and the lab.
// It wires store, persistence, resource registry, operations, watches and HTTP(S), then
// writes a kubeconfig for it. Never used in production: see apiserver/README.md.

import { randomUUID, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiHandler } from './api-handler.js';
import { builtinResourceTypes } from './builtin-resources.js';
import { writeKubeconfig } from './kubeconfig.js';
import { DEFAULT_WATCH_HISTORY_SIZE, ObjectStore } from './object-store.js';
import { loadSnapshot, saveSnapshot } from './persistence.js';
import { ResourceRegistry } from './resource-registry.js';
import { ResourceOperations } from './resource-operations.js';
import { createServingCertificate } from './tls-cert.js';
import { createStrategyLookup } from './type-strategies.js';
import { WatchHub } from './watch.js';
import { silentLogger, type Logger } from '../src/shared/log.js';

export interface ApiServerOptions {
  /** Address to listen on; an address inside a network namespace works when the process runs there. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /** Host written into the kubeconfig URL. Default: `host` (127.0.0.1 when listening on 0.0.0.0 / ::). */
  advertiseHost?: string;
  /** Serve HTTPS with a freshly generated CA (embedded in the kubeconfig). Default false. */
  tls?: boolean;
  /** Where to write the kubeconfig. Default: a temporary directory removed by close(). */
  kubeconfigPath?: string;
  /** JSON snapshot rewritten on every change and loaded at start. Default: in memory only. */
  dataFile?: string;
  /** Change events kept for watches resuming from a resourceVersion (older: 410 Gone). Default 1000. */
  watchHistorySize?: number;
  /** Interval of BOOKMARK events for watches with allowWatchBookmarks=true. Default 30000. */
  watchBookmarkIntervalMs?: number;
  /** Watch duration when the client sends no timeoutSeconds. Default 1800. */
  watchDefaultTimeoutSeconds?: number;
  /** Range Services get cluster IPs from. Default 10.96.0.0/16. */
  serviceClusterIpRange?: string;
  /** Bearer token written into the kubeconfig (accepted and ignored by the server). Default 'kubelink-test-token'. */
  token?: string;
  /** Cluster/user/context name in the kubeconfig. Default 'kubelink-test'. */
  contextName?: string;
  logger?: Logger;
  /** Clock for timestamps and ages. */
  now?: () => Date;
  /** metadata.uid generator. */
  newUid?: () => string;
}

export interface RunningApiServer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  host: string;
  port: number;
  kubeconfigPath: string;
  /** PEM of the serving certificate's CA when tls is on. */
  caPem?: string;
  /** The current resourceVersion of the store. */
  resourceVersion(): number;
  /** Open watch streams. */
  openWatches(): number;
  /** Ends watches, closes connections and the listener; the data file is already up to date. */
  close(): Promise<void>;
}

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  tls: false,
  watchHistorySize: DEFAULT_WATCH_HISTORY_SIZE,
  watchBookmarkIntervalMs: 30_000,
  watchDefaultTimeoutSeconds: 1800,
  serviceClusterIpRange: '10.96.0.0/16',
  token: 'kubelink-test-token',
  contextName: 'kubelink-test',
};

/** Namespaces a fresh cluster has. */
const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function validate(options: ApiServerOptions): void {
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) {
    throw new RangeError(`port must be an integer 0..65535, got ${options.port}`);
  }
  for (const name of ['watchBookmarkIntervalMs', 'watchDefaultTimeoutSeconds'] as const) {
    const v = options[name];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new RangeError(`${name} must be positive, got ${v}`);
  }
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startApiServer(options: ApiServerOptions = {}): Promise<RunningApiServer> {
  validate(options);
  const o = { ...DEFAULTS, ...options };
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());

  const snapshot = o.dataFile ? loadSnapshot(o.dataFile) : undefined;
  const store = new ObjectStore({ watchHistorySize: o.watchHistorySize }, snapshot);
  const registry = new ResourceRegistry(builtinResourceTypes());
  const operations = new ResourceOperations({
    store,
    registry,
    strategyFor: createStrategyLookup({ serviceClusterIpRange: o.serviceClusterIpRange }),
    now,
    newUid: options.newUid ?? randomUUID,
    randomNameSuffix: () => Array.from({ length: 5 }, () => NAME_SUFFIX_ALPHABET[randomInt(NAME_SUFFIX_ALPHABET.length)]).join(''),
  });
  operations.syncAllCrds();
  if (o.dataFile) {
    const dataFile = o.dataFile;
    store.subscribe(() => saveSnapshot(dataFile, store.snapshot()));
  }
  if (!snapshot) {
    const namespaces = registry.find('', 'v1', 'namespaces')!;
    for (const name of INITIAL_NAMESPACES) {
      operations.create(namespaces, undefined, { metadata: { name } }, { dryRun: false, fieldValidation: 'Strict' });
    }
  }

  const watchHub = new WatchHub(store, { bookmarkIntervalMs: o.watchBookmarkIntervalMs, defaultTimeoutSeconds: o.watchDefaultTimeoutSeconds });
  const advertise = o.advertiseHost ?? (o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host);
  let port = 0;
  const handler = createApiHandler({ registry, operations, watchHub, serverAddress: () => `${urlHost(advertise)}:${port}`, now, logger });

  const certificate = o.tls ? createServingCertificate([advertise, o.host, '127.0.0.1', 'localhost'], now()) : undefined;
  const server: Server = certificate
    ? createHttpsServer({ cert: certificate.certPem, key: certificate.keyPem }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${o.host}:${o.port}`, { cause: err })));
    server.listen(o.port, o.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `${certificate ? 'https' : 'http'}://${urlHost(advertise)}:${port}`;

  const temporaryDir = o.kubeconfigPath ? undefined : mkdtempSync(join(tmpdir(), 'kubelink-apiserver-'));
  const kubeconfigPath = o.kubeconfigPath ?? join(temporaryDir!, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, { server: url, caPem: certificate?.caPem, token: o.token, name: o.contextName });
  logger.info('api server listening', { url, kubeconfig: kubeconfigPath, dataFile: o.dataFile, resourceVersion: store.resourceVersion() });

  let closed: Promise<void> | undefined;
  return {
    url,
    host: o.host,
    port,
    kubeconfigPath,
    caPem: certificate?.caPem,
    resourceVersion: () => store.resourceVersion(),
    openWatches: () => watchHub.openWatches(),
    close() {
      closed ??= new Promise<void>((resolve) => {
        watchHub.closeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => {
        if (temporaryDir) rmSync(temporaryDir, { recursive: true, force: true });
      });
      return closed;
    },
  };
}
