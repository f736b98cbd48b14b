// The versioned object store: every accepted change gets the next resourceVersion of
// one server-wide counter (like etcd's revision), is kept in a bounded history for
// watches that resume from a resourceVersion, and is announced to subscribers.
//
// Stored objects are deep-frozen: a handler that wants to change one clones it first,
// so an accidental in-place mutation throws instead of silently corrupting history.

import type { KubeObject } from './api-types.js';
import { cloneJson, deepFreeze } from './json-value.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  resourceVersion: number;
  type: ChangeType;
  /** Storage key (group/plural) of the changed object. */
  storageKey: string;
  /** The object after the change; for DELETED its last state stamped with the deletion's version. */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  previous?: KubeObject;
}

export interface ObjectStoreOptions {
  /** Change events kept for resuming watches; an older resourceVersion gets 410 Gone. */
  watchHistorySize?: number;
}

export const DEFAULT_WATCH_HISTORY_SIZE = 1000;

/** What --data-file holds: every object and the counter, enough to continue after a restart. */
export interface StoreSnapshot {
  format: 'kubelink-test-apiserver/v1';
  resourceVersion: number;
  objects: Record<string, KubeObject[]>;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private currentVersion: number;
  /** A watch may resume from any version >= this one; older ones were compacted away. */
  private oldestResumableVersion: number;
  private readonly buckets = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  private readonly historySize: number;

  constructor(options: ObjectStoreOptions = {}, snapshot?: StoreSnapshot) {
    this.historySize = options.watchHistorySize ?? DEFAULT_WATCH_HISTORY_SIZE;
    if (!Number.isInteger(this.historySize) || this.historySize < 1) {
      throw new RangeError(`watchHistorySize must be a positive integer, got ${this.historySize}`);
    }
    this.currentVersion = snapshot?.resourceVersion ?? 1;
    this.oldestResumableVersion = this.currentVersion;
    for (const [key, objects] of Object.entries(snapshot?.objects ?? {})) {
      const bucket = this.bucket(key);
      for (const obj of objects) bucket.set(objectKey(obj.metadata.namespace, obj.metadata.name ?? ''), deepFreeze(cloneJson(obj)));
    }
  }

  resourceVersion(): number {
    return this.currentVersion;
  }

  get(storageKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.buckets.get(storageKey)?.get(objectKey(namespace, name));
  }

  /** Objects of one resource sorted by namespace and name; all namespaces when `namespace` is undefined. */
  list(storageKey: string, namespace?: string): KubeObject[] {
    const bucket = this.buckets.get(storageKey);
    if (!bucket) return [];
    const keys = [...bucket.keys()].sort();
    const out: KubeObject[] = [];
    for (const k of keys) {
      const obj = bucket.get(k)!;
      if (namespace === undefined || (obj.metadata.namespace ?? '') === namespace) out.push(obj);
    }
    return out;
  }

  storageKeys(): string[] {
    return [...this.buckets.keys()];
  }

  /** Stores a new object under the next resourceVersion. The caller checked it does not exist. */
  create(storageKey: string, obj: KubeObject): KubeObject {
    return this.commit(storageKey, 'ADDED', obj, undefined);
  }

  /** Replaces an existing object under the next resourceVersion. */
  update(storageKey: string, obj: KubeObject): KubeObject {
    const previous = this.get(storageKey, obj.metadata.namespace, obj.metadata.name ?? '');
    if (!previous) throw new Error(`update of missing object ${storageKey} ${obj.metadata.name}`);
    return this.commit(storageKey, 'MODIFIED', obj, previous);
  }

  /** Removes an object; the DELETED event carries it with the deletion's resourceVersion. */
  delete(storageKey: string, namespace: string | undefined, name: string): KubeObject {
    const previous = this.get(storageKey, namespace, name);
    if (!previous) throw new Error(`delete of missing object ${storageKey} ${namespace}/${name}`);
    return this.commit(storageKey, 'DELETED', previous, previous);
  }

  /**
   * Events after `resourceVersion`, or undefined when the history no longer reaches back
   * that far (the caller answers 410 Gone).
   */
  eventsAfter(resourceVersion: number): StoredEvent[] | undefined {
    if (resourceVersion < this.oldestResumableVersion) return undefined;
    const first = this.history.findIndex((e) => e.resourceVersion > resourceVersion);
    return first < 0 ? [] : this.history.slice(first);
  }

  oldestResumableResourceVersion(): number {
    return this.oldestResumableVersion;
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): StoreSnapshot {
    const objects: Record<string, KubeObject[]> = {};
    for (const [key, bucket] of this.buckets) if (bucket.size > 0) objects[key] = [...bucket.values()];
    return { format: 'kubelink-test-apiserver/v1', resourceVersion: this.currentVersion, objects };
  }

  private bucket(storageKey: string): Map<string, KubeObject> {
    let bucket = this.buckets.get(storageKey);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(storageKey, bucket);
    }
    return bucket;
  }

  private commit(storageKey: string, type: ChangeType, obj: KubeObject, previous: KubeObject | undefined): KubeObject {
    const version = this.currentVersion + 1;
    const stored = cloneJson(obj);
    stored.metadata.resourceVersion = String(version);
    deepFreeze(stored);
    const key = objectKey(stored.metadata.namespace, stored.metadata.name ?? '');
    if (type === 'DELETED') this.bucket(storageKey).delete(key);
    else this.bucket(storageKey).set(key, stored);
    this.currentVersion = version;

    const event: StoredEvent = { resourceVersion: version, type, storageKey, object: stored, previous };
    this.history.push(event);
    if (this.history.length > this.historySize) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.oldestResumableVersion = dropped[dropped.length - 1].resourceVersion;
    }
    for (const listener of this.listeners) listener(event);
    return stored;
  }
}
