// `kubelink status`: reads the KubeLinks through the API server (nothing else: RTT and bytes
// are in their status, written by the leading broker every --status-stats-interval) and
// prints them once, or again on every change with --watch. Exit status: 0 when every
// KubeLink is Up, 1 otherwise or when the API server cannot be read, 2 on a usage error.
import { existsSync } from 'node:fs';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { KUBELINK_GROUP, KUBELINK_PLURAL, KUBELINK_VERSION } from '../../shared/types.js';
import type { KubeLinkResource } from '../../shared/types.js';
import { systemClock, withTimeout } from '../../shared/clock.js';
import { loadKubeConfig } from '../k8s/kube-config.js';
import { apiErrorMessage } from '../k8s/api-error.js';
import { ResilientInformer } from '../k8s/informer.js';
import { Watch } from '@kubernetes/client-node';
import type { ListResult } from '../k8s/informer.js';
import { KUBELINKS_PATH } from '../k8s/kubelink-source.js';
import { allUp, linkStatusRows, statusJson, statusTable } from './link-status-rows.js';
import { STATUS_HELP, StatusUsageError, parseStatusOptions } from './status-options.js';
import type { StatusOptions } from './status-options.js';

export interface StatusIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  now: () => Date;
  /** Resolves when --watch should end (SIGINT/SIGTERM for the CLI). */
  interrupted: Promise<unknown>;
}

/** A list that gets no answer fails after this long (exit 1), rather than hanging a script. */
const LIST_TIMEOUT_MS = 15_000;

export async function runStatus(argv: string[], io: StatusIo): Promise<number> {
  let options: StatusOptions;
  try {
    options = parseStatusOptions(argv);
    if (options.kubeconfig !== undefined && !existsSync(options.kubeconfig)) throw new StatusUsageError(`--kubeconfig "${options.kubeconfig}": no such file`);
  } catch (err) {
    if (!(err instanceof StatusUsageError)) throw err;
    io.stderr(`kubelink status: ${err.message}\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(STATUS_HELP);
    return 0;
  }
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig(options.kubeconfig);
  } catch (err) {
    io.stderr(`kubelink status: ${(err as Error).message}\n`);
    return 1;
  }
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = async (selectors: { labelSelector?: string; fieldSelector?: string } = {}): Promise<ListResult<KubeLinkResource>> =>
    (await custom.listClusterCustomObject({ group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: KUBELINK_PLURAL, ...selectors })) as ListResult<KubeLinkResource>;

  const print = (links: KubeLinkResource[]): number => {
    const now = io.now();
    const rows = linkStatusRows(links, now);
    io.stdout(options.output === 'json' ? `${statusJson(rows, now)}\n` : statusTable(rows));
    return allUp(rows) ? 0 : 1;
  };

  if (!options.watch) {
    try {
      return print((await withTimeout(systemClock, list(), LIST_TIMEOUT_MS, `no answer from the API server within ${LIST_TIMEOUT_MS / 1000} s`)).items ?? []);
    } catch (err) {
      io.stderr(`kubelink status: cannot list KubeLinks: ${apiErrorMessage(err)}\n`);
      return 1;
    }
  }

  // --watch: the same informer the controllers use (resumes, relists, backs off).
  let code = 1;
  let printed = 0;
  const informer = new ResilientInformer<KubeLinkResource>({
    resource: KUBELINK_PLURAL,
    path: KUBELINKS_PATH,
    list,
    watch: new Watch(kubeConfig),
    onChange: (items) => {
      if (printed++ > 0 && options.output === 'table') io.stdout('\n');
      code = print(items);
    },
  });
  informer.start();
  try {
    await Promise.race([informer.waitForSync(LIST_TIMEOUT_MS), io.interrupted]);
  } catch (err) {
    await informer.stop();
    io.stderr(`kubelink status: cannot list KubeLinks: ${apiErrorMessage((err as Error).cause ?? err)}\n`);
    return 1;
  }
  await io.interrupted;
  await informer.stop();
  return code;
}
