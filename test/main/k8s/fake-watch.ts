// A scripted stand-in for @kubernetes/client-node's Watch and a list call, so informer
// tests decide exactly which events arrive, when a watch breaks and what a relist returns.
import type { ListResult, Selectors, WatchStarter } from '../../../src/main/k8s/informer.js';

export interface FakeObject {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  data?: string;
}

export function obj(name: string, resourceVersion: string, data?: string): FakeObject {
  return { metadata: { name, resourceVersion }, data };
}

export interface WatchCall {
  path: string;
  query: Record<string, string | number | boolean | undefined>;
  controller: AbortController;
  /** Delivers one watch event to the informer. */
  emit(phase: string, object: unknown): void;
  /** Delivers an event even after the watch ended (a stream racing with its abort). */
  emitLate(phase: string, object: unknown): void;
  /** Ends the watch: normally (no argument) or with an error. */
  end(err?: unknown): void;
}

export class FakeWatch implements WatchStarter {
  readonly calls: WatchCall[] = [];
  /** When set, the next watch() fails at once with this error (like a refused connection). */
  failNext: unknown;

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      done(err ?? null);
    };
    // Like the real Watch: aborting ends the stream with an AbortError.
    controller.signal.addEventListener('abort', () => finish(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })));
    const call: WatchCall = {
      path,
      query,
      controller,
      emit: (phase, object) => {
        if (!finished) callback(phase, object);
      },
      emitLate: (phase, object) => callback(phase, object),
      end: (err) => finish(err),
    };
    this.calls.push(call);
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      finish(err);
    }
    return controller;
  }

  get last(): WatchCall {
    const call = this.calls[this.calls.length - 1];
    if (!call) throw new Error('no watch started');
    return call;
  }

  /** Watches not aborted and not ended. */
  get open(): WatchCall[] {
    return this.calls.filter((c) => !c.controller.signal.aborted);
  }
}

/** A list call whose answer the test sets; counts calls. */
export class FakeList<T> {
  calls = 0;
  selectors: Selectors[] = [];
  items: T[] = [];
  resourceVersion = '1';
  /** When set, list() rejects with it (and clears it unless `failAlways`). */
  failure: unknown;
  failAlways = false;
  /** When set, list() never answers. */
  hang = false;

  readonly fn = async (selectors: Selectors): Promise<ListResult<T>> => {
    this.calls++;
    this.selectors.push(selectors);
    if (this.hang) return new Promise(() => {});
    if (this.failure !== undefined) {
      const err = this.failure;
      if (!this.failAlways) this.failure = undefined;
      throw err;
    }
    return { items: [...this.items], metadata: { resourceVersion: this.resourceVersion } };
  };
}
