// `?watch=true` streams: one JSON event per line over a chunked response, as the real
// server sends them. A watch starts from a resourceVersion (events after it, from the
// store's bounded history; too old -> an ERROR event carrying a 410 Expired Status, then
// the stream ends; newer than the store, which only happens after a restart without
// --data-file, -> 410 as well) or without one (ADDED for every current object first). Bookmarks
// are sent when asked for; timeoutSeconds ends the stream cleanly.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonObject, KubeObject, ResourceType, WatchEventType } from './api-types.js';
import { apiVersionOf, storageKey } from './api-types.js';
import { badRequest, failureStatus } from './api-errors.js';
import { matchesFilter, type ListFilter } from './list-filter.js';
import type { ObjectStore, StoredEvent } from './object-store.js';
import { CRD_STORAGE_KEY } from './resource-operations.js';

export interface WatchHubOptions {
  /** How often a watch that allows bookmarks gets one. */
  bookmarkIntervalMs: number;
  /** Watch duration when the client sends no timeoutSeconds (the real server picks 30-60 min). */
  defaultTimeoutSeconds: number;
}

export interface WatchRequest {
  type: ResourceType;
  filter: ListFilter;
  /** The raw `resourceVersion` parameter; undefined when absent. */
  resourceVersion?: string;
  sendInitialEvents?: boolean;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
  /** Renders an object in the representation the client asked for (object, Table row, metadata). */
  encode(obj: KubeObject, firstEvent: boolean): JsonObject;
}

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/**
 * What a watcher with `filter` sees of a store change: objects moving into the
 * selection appear as ADDED, objects moving out of it as DELETED (like the real server).
 */
export function translateEvent(event: StoredEvent, key: string, filter: ListFilter): WatchEvent | undefined {
  if (event.storageKey !== key) return undefined;
  const matchesNow = event.type !== 'DELETED' && matchesFilter(filter, event.object);
  const matchedBefore = event.previous !== undefined && matchesFilter(filter, event.previous);
  switch (event.type) {
    case 'ADDED':
      return matchesNow ? { type: 'ADDED', object: event.object } : undefined;
    case 'MODIFIED':
      if (matchesNow) return { type: matchedBefore ? 'MODIFIED' : 'ADDED', object: event.object };
      return matchedBefore ? { type: 'DELETED', object: event.object } : undefined;
    case 'DELETED':
      return matchedBefore ? { type: 'DELETED', object: event.object } : undefined;
  }
}

/** Parses a watch/list resourceVersion parameter; 400 when it is not a number. */
export function parseResourceVersion(text: string): number {
  if (!/^\d+$/.test(text)) throw badRequest(`resourceVersion: Invalid value: "${text}": must be a non-negative integer`);
  return Number(text);
}

export class WatchHub {
  private readonly active = new Set<() => void>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: WatchHubOptions,
  ) {}

  /** Number of open watch streams (for tests and diagnostics). */
  openWatches(): number {
    return this.active.size;
  }

  /** Ends every open stream (server shutdown): clients see a clean end of the response. */
  closeAll(): void {
    for (const end of [...this.active]) end();
  }

  serve(req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
    const key = storageKey(w.type);
    const rv = w.resourceVersion === undefined || w.resourceVersion === '' ? undefined : parseResourceVersion(w.resourceVersion);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    let first = true;
    let ended = false;
    const send = (type: WatchEventType, object: JsonObject): void => {
      if (!ended) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const sendObject = (type: WatchEventType, obj: KubeObject): void => {
      send(type, w.encode(obj, first));
      first = false;
    };
    const bookmark = (annotations?: Record<string, string>): void => {
      const metadata: JsonObject = { resourceVersion: String(this.store.resourceVersion()) };
      if (annotations) metadata.annotations = annotations;
      send('BOOKMARK', { kind: w.type.kind, apiVersion: apiVersionOf(w.type), metadata });
    };

    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = (): void => {};
    const end = (): void => {
      if (ended) return;
      ended = true;
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.active.delete(end);
      res.end();
    };
    this.active.add(end);
    res.on('close', end);
    req.on('aborted', end);

    // History replay and subscription happen in one synchronous step: no change can slip between them.
    if (rv === undefined || rv === 0) {
      if (w.sendInitialEvents !== false) {
        for (const obj of this.store.list(key, w.filter.namespace)) if (matchesFilter(w.filter, obj)) sendObject('ADDED', obj);
        if (w.sendInitialEvents === true && w.allowBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
      }
    } else {
      const history = this.store.eventsAfter(rv);
      const current = this.store.resourceVersion();
      if (history === undefined || rv > current) {
        // Newer than the store: the client's version came from a server that lost its state
        // (restarted without --data-file). The real server would time out; 410 makes
        // clients relist, which is what they need here.
        const message =
          history === undefined
            ? `too old resource version: ${rv} (${this.store.oldestResumableResourceVersion()})`
            : `resource version ${rv} is newer than the server's ${current}: the server lost its state; relist`;
        send('ERROR', failureStatus(410, 'Expired', message) as unknown as JsonObject);
        end();
        return;
      }
      for (const event of history) {
        const out = translateEvent(event, key, w.filter);
        if (out) sendObject(out.type, out.object);
      }
    }
    unsubscribe = this.store.subscribe((event) => {
      const out = translateEvent(event, key, w.filter);
      if (out) sendObject(out.type, out.object);
      if (w.type.crdName !== undefined && event.storageKey === CRD_STORAGE_KEY && event.type === 'DELETED' && event.object.metadata.name === w.type.crdName) {
        end();
      }
    });

    const timeoutSeconds = w.timeoutSeconds ?? this.options.defaultTimeoutSeconds;
    timers.push(setTimeout(end, timeoutSeconds * 1000));
    if (w.allowBookmarks) timers.push(setInterval(() => bookmark(), this.options.bookmarkIntervalMs));
  }
}
