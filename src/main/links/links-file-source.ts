// KubeLinks from YAML files (--links PATH): one file or a directory of .yaml/.yml files,
// each with any number of documents, `kind: KubeLink` or `kind: List` with KubeLink items.
//
// Changes are picked up by FileWatch (src/shared/file-watch.ts): fs.watch on the directory
// (for a single file: on its parent, so an atomic rename-replacement is seen too) plus a
// periodic rescan. The rescan reads everything and calls onChange only when the resulting
// set differs from the last one delivered.
//
// One file never costs another its links: a file that cannot be read or parsed (even one
// whose YAML throws, like an alias bomb) is a problem of that file only. A file that
// breaks after it was good keeps serving its last good version, logged and counted
// (`kubelink_links_file_errors_total`, `kubelink_links_files_stale`), until it is fixed
// or removed; removing the file removes its links.
//
// Conflicts between links are resolved by age (link-validation: the older link wins), and
// files carry no creation time, so this source stamps each link with the time it first
// saw it (metadata.creationTimestamp): at the first scan the file's birth time (or mtime
// where the file system keeps none), later the scan's time. An established link thus
// outranks a newer conflicting file whatever their names, and an edit (a new inode for an
// atomic replacement) does not make a link younger.
//
// This source checks structure only (kind, apiVersion, name, spec fields present and
// strings). Whether a cidr parses or links conflict is link-validation's job, and its
// verdict comes back through reportStatus.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KUBELINK_API_VERSION, KUBELINK_KIND } from '../../shared/types.js';
import type { KubeLinkResource, KubeLinkStatus, LinkSource, LinkSourceStats } from '../../shared/types.js';
import { FileWatch, type WatchedDirectory } from '../../shared/file-watch.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/log.js';
import { StateLog } from '../../shared/state-log.js';
import type { Logger } from '../../shared/log.js';

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
  /** Files larger than this are refused (a links file is a few KiB; this bounds memory). */
  maxFileBytes?: number;
  /** Runs the rescan period and the debounce, and dates first-seen links. Default systemClock. */
  clock?: Clock;
}

export const FILE_LINK_SOURCE_DEFAULTS = {
  rescanIntervalMs: 5_000,
  debounceMs: 100,
  useFsWatch: true,
  maxFileBytes: 1024 * 1024,
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
const SPEC_FIELDS = ['clusterAddress', 'endpoint'] as const;
/** Optional spec fields, passed on as written: link validation judges them. */
const OPTIONAL_SPEC_FIELDS = ['cidr', 'egress', 'ingress', 'dns'] as const;

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
    spec: {
      clusterAddress: spec.clusterAddress as string,
      endpoint: spec.endpoint as string,
      ...Object.fromEntries(OPTIONAL_SPEC_FIELDS.filter((f) => spec[f] !== undefined && spec[f] !== null).map((f) => [f, spec[f]])),
    },
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
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      // e.g. "Excessive alias count indicates a resource exhaustion attack"
      out.problems.push({ file, document: String(index), reason: `YAML cannot be read: ${(err as Error).message.split('\n')[0]}` });
      return;
    }
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
  private readonly options: Required<Omit<FileLinkSourceOptions, 'logger' | 'clock'>>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly watch: FileWatch;
  private onChange?: (resources: KubeLinkResource[]) => void;
  private stopped = false;
  private lastDelivered?: string;
  /** The manifest problems logged while they persist. */
  private readonly problemsLogged = new StateLog();
  /** Each link's status as last logged, so a repeated report stays quiet. */
  private readonly statuses = new StateLog();
  /** Per file: what it held when last read without problems. A file that never was good serves its valid documents. */
  private readonly lastGood = new Map<string, KubeLinkResource[]>();
  /** Files currently served from lastGood because their content has problems. */
  private staleFiles = new Set<string>();
  /** When each (file, link name) was first seen, ms since the epoch. */
  private readonly firstSeen = new Map<string, number>();
  private scans = 0;
  private problemCount = 0;

  constructor(options: FileLinkSourceOptions) {
    this.options = { ...FILE_LINK_SOURCE_DEFAULTS, ...options };
    this.log = (options.logger ?? silentLogger).child({ component: 'links-file', path: options.path });
    this.clock = options.clock ?? systemClock;
    this.watch = new FileWatch({
      check: () => this.scanOnce(),
      directories: () => this.watchedDirectory(),
      pollIntervalMs: this.options.rescanIntervalMs,
      debounceMs: this.options.debounceMs,
      useFsWatch: this.options.useFsWatch,
      log: this.log,
      clock: this.clock,
    });
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
    await this.watch.start();
  }

  /** Rescans now; resolves when the files are read (and a changed set delivered). */
  rescan(): Promise<void> {
    return this.watch.checkNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch.stop();
  }

  /** Logs a link's status when it differs from the last one reported for that link. */
  async reportStatus(name: string, status: KubeLinkStatus): Promise<void> {
    if (!this.statuses.changed(name, [status.state, status.message, status.gateway])) return;
    const fields = { link: name, state: status.state, message: status.message, gateway: status.gateway };
    if (status.state === 'Up') this.log.info('link status', fields);
    else this.log.warn('link status', fields);
  }

  /** Problems found in the files since start (each counted once while it persists), and files served stale. */
  stats(): LinkSourceStats {
    return { manifestErrors: this.problemCount, staleFiles: this.staleFiles.size };
  }

  /** The directory (of the file): a directory watch survives atomic replacement of files in it. */
  private async watchedDirectory(): Promise<WatchedDirectory[]> {
    const s = await stat(this.options.path);
    if (s.isDirectory()) return [{ dir: this.options.path }];
    return [{ dir: path.dirname(this.options.path), name: path.basename(this.options.path) }];
  }

  private async listFiles(): Promise<string[]> {
    const s = await stat(this.options.path);
    if (!s.isDirectory()) return [this.options.path];
    const names = await readdir(this.options.path);
    // Hidden entries are skipped: ConfigMap mounts keep their real files under ..data/.
    return names.filter((n) => YAML_FILE.test(n) && !n.startsWith('.')).sort().map((n) => path.join(this.options.path, n));
  }

  /** Reads one file: its links, its problems and when it was created; 'gone' when it vanished. */
  private async readLinksFile(file: string): Promise<(ParsedManifests & { bornMs: number }) | 'gone'> {
    let text: string;
    let bornMs: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) return { resources: [], problems: [{ file, document: '-', reason: 'is not a regular file' }], bornMs: 0 };
      if (s.size > this.options.maxFileBytes) {
        return { resources: [], problems: [{ file, document: '-', reason: `is ${s.size} bytes, larger than the limit of ${this.options.maxFileBytes}` }], bornMs: 0 };
      }
      bornMs = s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs;
      text = await readFile(file, 'utf8');
    } catch (err) {
      // removed between readdir and read
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      return { resources: [], problems: [{ file, document: '-', reason: `cannot be read: ${(err as Error).message}` }], bornMs: 0 };
    }
    return { ...parseLinkManifests(text, file), bornMs };
  }

  private async scanOnce(): Promise<void> {
    const now = this.clock.now();
    const initial = this.scans++ === 0;
    let files: string[];
    try {
      files = await this.listFiles();
    } catch (err) {
      // The directory itself is unreadable (or gone): keep the links delivered so far.
      this.reportProblems([{ file: this.options.path, document: '-', reason: `cannot be read: ${(err as Error).message}; keeping the links read before` }]);
      return;
    }

    const found: { resource: KubeLinkResource; file: string; seenMs: number }[] = [];
    const problems: ManifestProblem[] = [];
    const stale = new Set<string>();
    const seenKeys = new Set<string>();
    for (const file of files) {
      const read = await this.readLinksFile(file);
      if (read === 'gone') continue;
      problems.push(...read.problems);
      let resources = read.resources;
      const good = this.lastGood.get(file);
      if (read.problems.length === 0) this.lastGood.set(file, resources);
      else if (good !== undefined) {
        resources = good;
        stale.add(file);
      }
      for (const resource of resources) {
        const key = `${file}\0${resource.metadata.name}`;
        seenKeys.add(key);
        let seenMs = this.firstSeen.get(key);
        if (seenMs === undefined) {
          seenMs = initial && read.bornMs > 0 ? Math.min(now, read.bornMs) : now;
          this.firstSeen.set(key, seenMs);
        }
        found.push({ resource, file, seenMs });
      }
    }
    if (this.stopped) return;
    for (const file of this.lastGood.keys()) if (!files.includes(file)) this.lastGood.delete(file);
    for (const key of this.firstSeen.keys()) if (!seenKeys.has(key)) this.firstSeen.delete(key);
    this.reportStale(stale);

    // A name defined twice: the definition seen first wins, so a new file cannot take over a link.
    found.sort((a, b) => a.seenMs - b.seenMs || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    const unique: KubeLinkResource[] = [];
    const seen = new Map<string, string>();
    for (const { resource: r, file, seenMs } of found) {
      const first = seen.get(r.metadata.name);
      if (first !== undefined) {
        problems.push({ file, document: '-', name: r.metadata.name, field: 'metadata.name', reason: `is defined more than once; the definition seen first (in ${first}) is used` });
        continue;
      }
      seen.set(r.metadata.name, file);
      unique.push({ ...r, metadata: { ...r.metadata, creationTimestamp: new Date(seenMs).toISOString() } });
    }
    unique.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    this.reportProblems(problems);

    const snapshot = JSON.stringify(unique);
    if (snapshot === this.lastDelivered) return;
    this.lastDelivered = snapshot;
    this.statuses.retain(seen);
    this.log.info('links changed', { links: unique.map((r) => r.metadata.name) });
    try {
      this.onChange?.(unique);
    } catch (err) {
      this.log.error('link change handler failed', { error: err });
    }
  }

  /** Logs when a file starts and stops being served from its last good version. */
  private reportStale(stale: Set<string>): void {
    for (const file of stale) {
      if (this.staleFiles.has(file)) continue;
      const links = (this.lastGood.get(file) ?? []).map((r) => r.metadata.name);
      this.log.error('links file has errors; keeping its last good version until it is fixed', { file, links });
    }
    for (const file of this.staleFiles) {
      if (!stale.has(file) && this.lastGood.has(file)) this.log.info('links file is readable again', { file });
    }
    this.staleFiles = stale;
  }

  /** Logs each problem once while it persists; a fixed and re-broken manifest is logged again. */
  private reportProblems(problems: ManifestProblem[]): void {
    const keys = new Set<string>();
    for (const p of problems) {
      const key = problemKey(p);
      keys.add(key);
      if (!this.problemsLogged.changed(key, true)) continue;
      this.problemCount++;
      this.log.warn('skipping invalid KubeLink manifest', { ...p });
    }
    this.problemsLogged.retain(keys);
  }
}
