// KubeLinks from YAML files (--links PATH): one file or a directory of .yaml/.yml files,
// each with any number of documents, `kind: KubeLink` or `kind: List` with KubeLink items.
//
// Changes are picked up by fs.watch on the directory (for a single file: on its parent,
// so an atomic rename-replacement is seen too) plus a periodic rescan, because fs.watch
// misses events on some file systems and across symlink swaps (ConfigMap mounts). Both
// only trigger a debounced rescan; the rescan reads everything and calls onChange only
// when the resulting set differs from the last one delivered.
//
// This source checks structure only (kind, apiVersion, name, spec fields present and
// strings). Whether a cidr parses or links conflict is link-validation's job, and its
// verdict comes back through reportStatus.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KUBELINK_API_VERSION, KUBELINK_KIND } from '../shared/types.js';
import type { KubeLinkDnsSpec, KubeLinkResource, KubeLinkStatus, LinkSource } from '../shared/types.js';
import { createCoalescedTask } from './coalesced-task.js';
import type { CoalescedTask } from './coalesced-task.js';
import { silentLogger } from './log.js';
import type { Logger } from './log.js';

export interface FileLinkSourceOptions {
  /** A YAML file or a directory of .yaml/.yml files. */
  path: string;
  logger?: Logger;
  /** Fallback rescan period for when fs.watch misses a change. */
  rescanIntervalMs?: number;
  /** Quiet time after a watch event before rescanning (editors write in several steps). */
  debounceMs?: number;
  /** Use fs.watch; false leaves only the periodic rescan (tests, odd file systems). */
  useFsWatch?: boolean;
}

export const FILE_LINK_SOURCE_DEFAULTS = {
  rescanIntervalMs: 5_000,
  debounceMs: 100,
  useFsWatch: true,
} satisfies Partial<FileLinkSourceOptions>;

/** A manifest that was skipped, with enough detail to find and fix it. */
export interface ManifestProblem {
  file: string;
  /** Document index in the file (0-based); `items[i]` appended for List members. */
  document: string;
  name?: string;
  field?: string;
  reason: string;
}

export interface ParsedManifests {
  resources: KubeLinkResource[];
  problems: ManifestProblem[];
}

const YAML_FILE = /\.ya?ml$/i;
const SPEC_FIELDS = ['cidr', 'clusterAddress', 'endpoint'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks one object claimed to be a KubeLink; returns it normalized, or the problem. */
function checkKubeLink(obj: Record<string, unknown>, file: string, document: string): KubeLinkResource | ManifestProblem {
  const metadata = isObject(obj.metadata) ? obj.metadata : undefined;
  const name = typeof metadata?.name === 'string' && metadata.name !== '' ? metadata.name : undefined;
  const problem = (field: string, reason: string): ManifestProblem => ({ file, document, name, field, reason });
  if (obj.apiVersion !== KUBELINK_API_VERSION) {
    return problem('apiVersion', `is ${JSON.stringify(obj.apiVersion ?? null)}, expected ${KUBELINK_API_VERSION}`);
  }
  if (name === undefined) return problem('metadata.name', 'is missing');
  if (!isObject(obj.spec)) return problem('spec', 'is missing or not a mapping');
  const spec = obj.spec;
  for (const field of SPEC_FIELDS) {
    if (spec[field] === undefined || spec[field] === null || spec[field] === '') return problem(`spec.${field}`, 'is missing');
    if (typeof spec[field] !== 'string') return problem(`spec.${field}`, `must be a string, is ${JSON.stringify(spec[field])}`);
  }
  return {
    apiVersion: KUBELINK_API_VERSION,
    kind: KUBELINK_KIND,
    metadata: { ...metadata, name },
    // spec.dns is passed on as written: link validation checks it like the API server's would not.
    spec: { cidr: spec.cidr as string, clusterAddress: spec.clusterAddress as string, endpoint: spec.endpoint as string, ...(spec.dns !== undefined ? { dns: spec.dns as KubeLinkDnsSpec } : {}) },
    // A status written in the file is passed on: the router reads status.gateway from it
    // when links come from files (no API server to hold the broker's status).
    ...(isObject(obj.status) ? { status: pickStatus(obj.status) } : {}),
  };
}

function pickStatus(status: Record<string, unknown>): KubeLinkStatus {
  const out: KubeLinkStatus = {};
  if (typeof status.gateway === 'string') out.gateway = status.gateway;
  if (typeof status.message === 'string') out.message = status.message;
  if (status.state === 'Up' || status.state === 'Down' || status.state === 'Error' || status.state === 'Invalid') out.state = status.state;
  return out;
}

/** Parses the text of one YAML file into KubeLinks and problems (pure). */
export function parseLinkManifests(text: string, file: string): ParsedManifests {
  const out: ParsedManifests = { resources: [], problems: [] };
  const add = (obj: unknown, document: string) => {
    if (!isObject(obj)) {
      out.problems.push({ file, document, reason: 'is not a mapping' });
      return;
    }
    if (obj.kind !== KUBELINK_KIND) {
      const name = isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
      out.problems.push({ file, document, name, field: 'kind', reason: `is ${JSON.stringify(obj.kind ?? null)}, expected ${KUBELINK_KIND} or List` });
      return;
    }
    const checked = checkKubeLink(obj, file, document);
    if ('spec' in checked) out.resources.push(checked);
    else out.problems.push(checked);
  };

  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    out.problems.push({ file, document: '0', reason: `YAML does not parse: ${(err as Error).message.split('\n')[0]}` });
    return out;
  }
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      out.problems.push({ file, document: String(index), reason: `YAML does not parse: ${doc.errors[0]!.message.split('\n')[0]}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // empty document, e.g. a trailing ---
    if (isObject(value) && value.kind === 'List') {
      if (!Array.isArray(value.items)) {
        out.problems.push({ file, document: String(index), field: 'items', reason: 'is missing or not a list' });
        return;
      }
      value.items.forEach((item, i) => add(item, `${index}.items[${i}]`));
      return;
    }
    add(value, String(index));
  });
  return out;
}

function problemKey(p: ManifestProblem): string {
  return JSON.stringify([p.file, p.document, p.name, p.field, p.reason]);
}

export class FileLinkSource implements LinkSource {
  private readonly options: Required<Omit<FileLinkSourceOptions, 'logger'>>;
  private readonly log: Logger;
  private onChange?: (resources: KubeLinkResource[]) => void;
  private watcher?: FSWatcher;
  private rescanTimer?: NodeJS.Timeout;
  private scan?: CoalescedTask;
  private stopped = false;
  private lastDelivered?: string;
  private reportedProblems = new Set<string>();
  private readonly statuses = new Map<string, string>();
  private current: KubeLinkResource[] = [];

  constructor(options: FileLinkSourceOptions) {
    this.options = { ...FILE_LINK_SOURCE_DEFAULTS, ...options };
    this.log = (options.logger ?? silentLogger).child({ component: 'links-file', path: options.path });
  }

  /** Reads the links once and delivers them, then keeps watching. Fails when PATH is missing. */
  async start(onChange: (resources: KubeLinkResource[]) => void): Promise<void> {
    try {
      await stat(this.options.path);
    } catch (err) {
      throw new Error(`--links ${this.options.path}: cannot be read`, { cause: err });
    }
    this.onChange = onChange;
    this.stopped = false;
    const scan = createCoalescedTask(() => this.scanOnce(), this.options.debounceMs, (err) => this.log.error('scanning links failed', { error: err }));
    this.scan = scan;
    await scan.run();
    this.startWatcher();
    this.rescanTimer = setInterval(() => void scan.run(), this.options.rescanIntervalMs);
    this.rescanTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.rescanTimer);
    await this.scan?.stop();
  }

  /** Logs a link's status when it differs from the last one reported for that link. */
  async reportStatus(name: string, status: KubeLinkStatus): Promise<void> {
    const key = JSON.stringify([status.state, status.message, status.gateway]);
    if (this.statuses.get(name) === key) return;
    this.statuses.set(name, key);
    const fields = { link: name, state: status.state, message: status.message, gateway: status.gateway };
    if (status.state === 'Up') this.log.info('link status', fields);
    else this.log.warn('link status', fields);
  }

  /** The resources last delivered through onChange. */
  resources(): KubeLinkResource[] {
    return this.current;
  }

  private startWatcher(): void {
    if (!this.options.useFsWatch || this.watcher || this.stopped) return;
    // Watch the directory (of the file): survives atomic replacement of files in it.
    void stat(this.options.path)
      .then((s) => {
        if (this.stopped || this.watcher) return;
        const dir = s.isDirectory() ? this.options.path : path.dirname(this.options.path);
        const only = s.isDirectory() ? undefined : path.basename(this.options.path);
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (only === undefined || filename === null || filename === only) this.scan?.trigger();
        });
        watcher.on('error', (err) => {
          this.log.debug('fs.watch failed; relying on periodic rescan until it can be re-established', { error: err });
          watcher.close();
          if (this.watcher === watcher) this.watcher = undefined;
        });
        this.watcher = watcher;
      })
      .catch(() => {
        // path gone: the periodic rescan reports it and retries the watcher
      });
  }

  private async listFiles(): Promise<string[]> {
    const s = await stat(this.options.path);
    if (!s.isDirectory()) return [this.options.path];
    const names = await readdir(this.options.path);
    // Hidden entries are skipped: ConfigMap mounts keep their real files under ..data/.
    return names.filter((n) => YAML_FILE.test(n) && !n.startsWith('.')).sort().map((n) => path.join(this.options.path, n));
  }

  private async scanOnce(): Promise<void> {
    const resources: { resource: KubeLinkResource; file: string }[] = [];
    const problems: ManifestProblem[] = [];
    try {
      for (const file of await this.listFiles()) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (err) {
          // removed between readdir and read, or a directory named *.yaml
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ file, document: '-', reason: `cannot be read: ${(err as Error).message}` });
          continue;
        }
        const parsed = parseLinkManifests(text, file);
        resources.push(...parsed.resources.map((resource) => ({ resource, file })));
        problems.push(...parsed.problems);
      }
    } catch (err) {
      problems.push({ file: this.options.path, document: '-', reason: `cannot be read: ${(err as Error).message}` });
    }
    if (this.stopped) return;

    const unique: KubeLinkResource[] = [];
    const seen = new Set<string>();
    for (const { resource: r, file } of resources) {
      if (seen.has(r.metadata.name)) {
        problems.push({ file, document: '-', name: r.metadata.name, field: 'metadata.name', reason: 'is defined more than once; the first definition (by file name) is used' });
        continue;
      }
      seen.add(r.metadata.name);
      unique.push(r);
    }
    this.reportProblems(problems);
    this.startWatcher();

    const snapshot = JSON.stringify(unique);
    if (snapshot === this.lastDelivered) return;
    this.lastDelivered = snapshot;
    this.current = unique;
    for (const name of [...this.statuses.keys()]) if (!seen.has(name)) this.statuses.delete(name);
    this.log.info('links changed', { links: unique.map((r) => r.metadata.name) });
    try {
      this.onChange?.(unique);
    } catch (err) {
      this.log.error('link change handler failed', { error: err });
    }
  }

  /** Logs each problem once while it persists; a fixed and re-broken manifest is logged again. */
  private reportProblems(problems: ManifestProblem[]): void {
    const keys = new Set<string>();
    for (const p of problems) {
      const key = problemKey(p);
      keys.add(key);
      if (!this.reportedProblems.has(key)) this.log.warn('skipping invalid KubeLink manifest', { ...p });
    }
    this.reportedProblems = keys;
  }
}
