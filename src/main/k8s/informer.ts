// A list+watch of one resource that never gives up, and a consistent cache of it.
//
// Why not the library's ListWatch / makeInformer? Checked against @kubernetes/client-node
// 2.0.1 (node_modules/@kubernetes/client-node/dist/cache.js, watch.js):
//   - 2.x now does: resume a watch from the last resourceVersion when it ends cleanly
//     (with its own 1 s..30 s reconnect delay), relist on 410, and an inactivity timeout
//     in Watch (30 s, armed before the request, so it also ends a connect that hangs,
//     re-armed by every chunk of the body; kubernetes-client/javascript#3022). That
//     timeout is our watchdog now, instead of a timer of our own; we resume at once after
//     it fires, as ListWatch does. It is not configurable (requestTimeoutMs is private):
//     a quiet watch without bookmarks is re-opened every 30 s from the last
//     resourceVersion, one request per watched resource, no relist.
//   - 2.x still does not: retry after any other error (ListWatch's doneHandler reports a
//     refused connection, a 500 or a failed list to its ERROR callbacks and stops for
//     good; kubernetes-client/javascript#2385), time out a list that never answers, ask
//     for bookmarks or a server-side watch timeout, relist periodically or on demand
//     (resync() after our own writes), let a test inject time, or ignore late events of
//     an abandoned watch. Those are what this class adds:
//
//   cycle:  [list if needed] -> watch from resourceVersion -> ... -> ends
//     ends normally (server timeout) ............ watch again at once from the last RV
//     nothing received for the inactivity time .. (Watch aborts with TimeoutError) watch
//                                                 again at once from the last RV
//     410 Gone / "too old resourceVersion" ...... relist at once, then watch
//     any other error (HTTP, network, list) ..... wait backoff (1 s doubling to 30 s, with
//                                                 jitter; reset by any event), then retry
//     every resyncMs ............................ relist (and reconcile) even when healthy
//
// A relist replaces the cache by the list and derives adds, updates and deletes from the
// difference, so changes made while no watch was open (API server restart, network
// outage) are never lost. Every callback of an abandoned cycle is ignored through a cycle
// number, so a late event of an old watch can never overwrite newer state.
import { Backoff } from '../../shared/backoff.js';
import { silentLogger } from '../../shared/log.js';
import type { Logger } from '../../shared/log.js';
import { apiErrorMessage, isGone } from './api-error.js';
import { systemClock, withTimeout } from '../../shared/clock.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';

/** What the informer needs of an object: name, namespace and resourceVersion. */
export interface InformedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Lists the resource (a call of the generated API, e.g. CoreV1Api.listNamespacedSecret). */
export type ListFunction<T> = (selectors: Selectors) => Promise<ListResult<T>>;

/** The part of @kubernetes/client-node's `Watch` the informer uses (tests pass a fake). */
export interface WatchStarter {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController>;
}

export type InformerEvent<T> =
  | { type: 'added'; object: T }
  | { type: 'updated'; object: T; old: T }
  | { type: 'deleted'; object: T };

export interface InformerTunables {
  /** First retry delay after an error; doubles per consecutive error. */
  backoffInitialMs: number;
  /** Ceiling of the retry delay. */
  backoffMaxMs: number;
  backoffFactor: number;
  /** Asks the server to end each watch after this long; the informer then re-watches. */
  watchTimeoutSeconds: number;
  /** Full relist period, healthy or not. */
  resyncMs: number;
  /** A list taking longer than this counts as failed. */
  listTimeoutMs: number;
  /** Changes within this window are delivered to onChange as one. */
  debounceMs: number;
}

export const INFORMER_DEFAULTS: InformerTunables = {
  backoffInitialMs: 1_000,
  backoffMaxMs: 30_000,
  backoffFactor: 2,
  watchTimeoutSeconds: 300,
  resyncMs: 10 * 60_000,
  listTimeoutMs: 60_000,
  debounceMs: 50,
};

/** The library's Watch ends a silent watch with a DOMException named TimeoutError. */
function isInactivityTimeout(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'TimeoutError';
}

export interface InformerOptions<T extends InformedObject> extends Partial<InformerTunables> {
  /** Resource name for logs, e.g. "kubelinks" or "secret kube-system/kubelink". */
  resource: string;
  /** Watch path, e.g. /apis/kubelink.mandelsoft.org/v1alpha1/kubelinks. */
  path: string;
  list: ListFunction<T>;
  watch: WatchStarter;
  labelSelector?: string;
  fieldSelector?: string;
  /** The full current set, after the initial list at once, later coalesced over debounceMs. */
  onChange?: (items: T[]) => void;
  /** Each add, update and delete, as it is applied to the cache. */
  onEvent?: (event: InformerEvent<T>) => void;
  clock?: Clock;
  /** In [0, 1); jitter of the backoff. */
  random?: () => number;
  log?: Logger;
}

type State = 'idle' | 'waiting' | 'listing' | 'watching' | 'stopped';

interface SyncWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer?: TimerHandle;
}

function objectKey(obj: InformedObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** An error for an ERROR event of a watch stream (its object is a Status). */
function watchStatusError(status: unknown): Error & { statusCode?: number } {
  const s = (status ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
  const err = new Error(`watch error event: ${String(s.reason ?? '')} ${String(s.message ?? '')}`.trim()) as Error & { statusCode?: number };
  if (typeof s.code === 'number') err.statusCode = s.code;
  return err;
}

export class ResilientInformer<T extends InformedObject> {
  private readonly tunables: InformerTunables;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private state: State = 'idle';
  /** Incremented whenever a cycle is abandoned; callbacks carrying an older number are ignored. */
  private cycle = 0;
  private needList = true;
  private resourceVersion = '';
  private cache = new Map<string, T>();
  private watchAbort: AbortController | undefined;
  private watchStartedAt = 0;
  private eventsInWatch = 0;
  private consecutiveGone = 0;
  private failures = 0;
  private cycleTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private debounceTimer: TimerHandle | undefined;
  private isSynced = false;
  private syncWaiters: SyncWaiter[] = [];
  private lastErrorValue: unknown;

  constructor(private readonly options: InformerOptions<T>) {
    this.tunables = { ...INFORMER_DEFAULTS };
    for (const key of Object.keys(INFORMER_DEFAULTS) as Array<keyof InformerTunables>) {
      const value = options[key];
      if (value === undefined) continue;
      if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value))) {
        throw new RangeError(`informer option ${key} must be a finite number >= 0, got ${String(value)}`);
      }
      this.tunables[key] = value;
    }
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child({ component: 'informer', resource: options.resource });
    this.backoff = new Backoff({
      initialMs: this.tunables.backoffInitialMs,
      maxMs: this.tunables.backoffMaxMs,
      factor: this.tunables.backoffFactor,
      random: options.random ?? Math.random,
    });
  }

  /** Starts listing and watching in the background; errors are retried, never thrown. */
  start(): void {
    if (this.state !== 'idle') return;
    this.schedule(0);
  }

  /** Resolves once the first list has been applied; rejects after `timeoutMs` or on stop. */
  waitForSync(timeoutMs?: number): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new Error(`${this.options.resource}: informer stopped`));
    return new Promise((resolve, reject) => {
      const waiter: SyncWaiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = this.clock.setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
          const last = this.lastErrorValue === undefined ? 'no answer yet' : apiErrorMessage(this.lastErrorValue);
          reject(new Error(`${this.options.resource}: no successful list within ${timeoutMs} ms (last error: ${last})`, { cause: this.lastErrorValue }));
        }, timeoutMs);
      }
      this.syncWaiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.cycle++;
    this.abortWatch();
    for (const t of [this.cycleTimer, this.resyncTimer, this.debounceTimer]) {
      if (t !== undefined) this.clock.clearTimeout(t);
    }
    this.cycleTimer = this.resyncTimer = this.debounceTimer = undefined;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) {
      if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
      w.reject(new Error(`${this.options.resource}: informer stopped before the first list`));
    }
  }

  get synced(): boolean {
    return this.isSynced;
  }

  /** The last error seen (undefined before the first one). */
  get lastError(): unknown {
    return this.lastErrorValue;
  }

  /** The cached objects, ordered by namespace/name. */
  items(): T[] {
    return [...this.cache.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, obj]) => obj);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  /** Forces a relist now (e.g. after writing an object whose change must be seen at once). */
  resync(): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.needList = true;
    if (this.state === 'watching') this.schedule(0);
  }

  // ---- the cycle ----

  /** Abandons the current cycle and starts a new one after `delayMs`. */
  private schedule(delayMs: number): void {
    if (this.state === 'stopped') return;
    const cycle = ++this.cycle;
    this.abortWatch();
    if (this.cycleTimer !== undefined) this.clock.clearTimeout(this.cycleTimer);
    this.state = 'waiting';
    this.cycleTimer = this.clock.setTimeout(() => {
      this.cycleTimer = undefined;
      void this.runCycle(cycle);
    }, delayMs);
  }

  private current(cycle: number): boolean {
    return cycle === this.cycle && this.state !== 'stopped';
  }

  private async runCycle(cycle: number): Promise<void> {
    if (!this.current(cycle)) return;
    try {
      if (this.needList) {
        this.state = 'listing';
        const list = await this.listWithTimeout();
        if (!this.current(cycle)) return;
        this.applyList(list);
      }
      this.state = 'watching';
      this.watchStartedAt = this.clock.now();
      this.eventsInWatch = 0;
      const query: Record<string, string | number | boolean | undefined> = {
        allowWatchBookmarks: true,
        timeoutSeconds: this.tunables.watchTimeoutSeconds,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
      };
      if (this.resourceVersion !== '') query.resourceVersion = this.resourceVersion;
      const controller = await this.options.watch.watch(
        this.options.path,
        query,
        (phase, obj) => this.onWatchEvent(cycle, phase, obj),
        (err) => this.onWatchDone(cycle, err),
      );
      if (!this.current(cycle)) {
        controller.abort();
        return;
      }
      this.watchAbort = controller;
    } catch (err) {
      this.fail(cycle, err);
    }
  }

  private listWithTimeout(): Promise<ListResult<T>> {
    const { listTimeoutMs } = this.tunables;
    const selectors: Selectors = { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
    return withTimeout(this.clock, this.options.list(selectors), listTimeoutMs, `list did not answer within ${listTimeoutMs} ms`);
  }

  private fail(cycle: number, err: unknown): void {
    if (!this.current(cycle)) return;
    this.lastErrorValue = err;
    if (isGone(err)) {
      // The resourceVersion is too old: only a relist helps. At once the first time; with
      // backoff if the fresh list's version is rejected again (a confused server).
      this.needList = true;
      const delay = this.consecutiveGone++ === 0 ? 0 : this.backoff.next();
      this.log.info('resourceVersion expired; relisting', { resourceVersion: this.resourceVersion, retryInMs: delay });
      this.schedule(delay);
      return;
    }
    this.failures++;
    const delay = this.backoff.next();
    this.log.warn('list/watch failed; retrying', { error: apiErrorMessage(err), attempt: this.failures, retryInMs: delay });
    this.schedule(delay);
  }

  private onWatchEvent(cycle: number, phase: string, obj: unknown): void {
    if (!this.current(cycle)) return;
    if (phase === 'ERROR') {
      this.fail(cycle, watchStatusError(obj));
      return;
    }
    this.eventsInWatch++;
    this.consecutiveGone = 0;
    this.backoff.reset();
    if (this.failures > 0) {
      this.log.info('watch recovered', { failures: this.failures });
      this.failures = 0;
    }
    const object = obj as T;
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(object);
        break;
      case 'DELETED':
        this.remove(object);
        break;
      case 'BOOKMARK':
        break;
      default:
        this.log.debug('unknown watch event type ignored', { phase });
        return;
    }
    const rv = object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }

  private onWatchDone(cycle: number, err: unknown): void {
    if (!this.current(cycle)) return;
    this.watchAbort = undefined;
    if (isInactivityTimeout(err)) {
      // The library's inactivity timer waited the whole timeout already: resuming at once
      // cannot loop fast, and backing off would leave a quiet resource unwatched longer.
      this.log.debug('nothing received within the inactivity timeout; watching again', { resourceVersion: this.resourceVersion });
      this.schedule(0);
      return;
    }
    if (err) {
      this.fail(cycle, err);
      return;
    }
    // A server that closes every watch at once would otherwise be hammered in a loop.
    if (this.eventsInWatch === 0 && this.clock.now() - this.watchStartedAt < this.tunables.backoffInitialMs) {
      this.fail(cycle, new Error('watch closed by the server right after it was opened'));
      return;
    }
    this.log.debug('watch ended; watching again', { resourceVersion: this.resourceVersion });
    this.schedule(0);
  }

  private armResync(): void {
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resyncTimer = undefined;
      this.log.debug('periodic relist');
      this.resync();
    }, this.tunables.resyncMs);
  }

  private abortWatch(): void {
    const controller = this.watchAbort;
    this.watchAbort = undefined;
    controller?.abort();
  }

  // ---- the cache ----

  private applyList(list: ListResult<T>): void {
    const items = list.items ?? [];
    const next = new Map<string, T>();
    for (const obj of items) next.set(objectKey(obj), obj);
    let changed = false;
    for (const [key, old] of this.cache) {
      if (!next.has(key)) {
        changed = true;
        this.emit({ type: 'deleted', object: old });
      }
    }
    const previous = this.cache;
    this.cache = next;
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) {
        changed = true;
        this.emit({ type: 'added', object: obj });
      } else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        changed = true;
        this.emit({ type: 'updated', object: obj, old });
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.needList = false;
    this.armResync();
    this.log.debug('listed', { count: items.length, resourceVersion: this.resourceVersion });
    if (!this.isSynced) {
      this.isSynced = true;
      this.deliver();
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) {
        if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
        w.resolve();
      }
    } else if (changed) {
      this.changed();
    }
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) return;
    this.cache.set(key, obj);
    this.emit(old ? { type: 'updated', object: obj, old } : { type: 'added', object: obj });
    this.changed();
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    if (!this.cache.delete(key)) return;
    this.emit({ type: 'deleted', object: obj });
    this.changed();
  }

  private emit(event: InformerEvent<T>): void {
    if (!this.options.onEvent) return;
    try {
      this.options.onEvent(event);
    } catch (err) {
      this.log.error('informer event handler failed', { error: err });
    }
  }

  /** Schedules one onChange for all changes of the next debounceMs (latency bounded, not reset). */
  private changed(): void {
    if (!this.options.onChange || this.debounceTimer !== undefined) return;
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      if (this.state !== 'stopped') this.deliver();
    }, this.tunables.debounceMs);
  }

  private deliver(): void {
    if (!this.options.onChange) return;
    try {
      this.options.onChange(this.items());
    } catch (err) {
      this.log.error('informer change handler failed', { error: err });
    }
  }
}
