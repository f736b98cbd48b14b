// KubeLinks from the Kubernetes API: a LinkSource (see shared/types.ts) for the broker and
// the router. Cluster-scoped KubeLinks are read through the resilient informer; the
// broker's verdicts go back as merge patches on /status, one write in flight per link
// (the latest wins), skipped when the status already says so, and a core/v1 Event for
// every state change. A write that fails (API server down, a 5xx, a timeout) is retried
// with backoff until it lands or a newer report replaces it: the tunnel manager reports
// a state only when it changes, so a lost write would otherwise stay lost.
import os from 'node:os';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { KUBELINK_GROUP, KUBELINK_PLURAL, KUBELINK_VERSION } from '../../shared/types.js';
import type { KubeLinkResource, KubeLinkStatus, LinkSource } from '../../shared/types.js';
import { Backoff } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { apiError, apiErrorMessage, isNotFound } from './api-error.js';
import { systemClock, withTimeout } from '../../shared/clock.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';
import { ResilientInformer } from './informer.js';
import type { InformerTunables, ListResult, WatchStarter } from './informer.js';
import { LatestWinsQueue } from './latest-wins-queue.js';
import { sameStatus, stateChangeEvent, statusMergePatch, withTransitionTime } from './kubelink-status.js';

export { ensureCrd } from './ensure-crd.js';

export const KUBELINKS_PATH = `/apis/${KUBELINK_GROUP}/${KUBELINK_VERSION}/${KUBELINK_PLURAL}`;

export interface KubernetesLinkSourceOptions {
  /** Namespace the state-change Events go to (the broker's --namespace). */
  eventNamespace: string;
  /** Event source component. */
  component: string;
  /** Event source host. */
  host: string;
  /** start() fails when the first list has not succeeded within this time. */
  initialSyncTimeoutMs: number;
  /** stop() waits this long at most for status writes in flight. */
  stopTimeoutMs: number;
  /**
   * A status patch or Event that got no answer in this time counts as failed (and is
   * retried): a black-holed API connection must not block a link's status queue.
   */
  apiCallTimeoutMs: number;
  /** First delay before a failed status write is tried again; doubles per failure. */
  statusRetryInitialMs: number;
  /** Ceiling of the status write retry delay. */
  statusRetryMaxMs: number;
  /** In [0, 1); jitter of the status write retries. */
  random: () => number;
  informer: Partial<InformerTunables>;
  clock: Clock;
  /** The watch implementation; default the library's Watch on the same KubeConfig. */
  watch?: WatchStarter;
}

export const KUBERNETES_LINK_SOURCE_DEFAULTS: KubernetesLinkSourceOptions = {
  eventNamespace: process.env.POD_NAMESPACE || 'kube-system',
  component: 'kubelink-broker',
  host: os.hostname(),
  initialSyncTimeoutMs: 60_000,
  stopTimeoutMs: 5_000,
  apiCallTimeoutMs: 15_000,
  statusRetryInitialMs: 1_000,
  statusRetryMaxMs: 30_000,
  random: Math.random,
  informer: {},
  clock: systemClock,
};

/** Our last write per link, so a write the informer has not seen yet is not repeated. */
interface WrittenStatus {
  status: KubeLinkStatus;
  /** The cached object's resourceVersion when we wrote: while the cache still has it, our write is newer. */
  cachedResourceVersion: string | undefined;
}

export class KubernetesLinkSource implements LinkSource {
  private readonly options: KubernetesLinkSourceOptions;
  private readonly log: Logger;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private informer: ResilientInformer<KubeLinkResource> | undefined;
  private readonly written = new Map<string, WrittenStatus>();
  private readonly writes = new LatestWinsQueue<string, KubeLinkStatus>((name, status) => this.writeStatus(name, status));
  private eventCounter = 0;
  /** The latest status reported per link: what a retry writes. */
  private readonly desired = new Map<string, KubeLinkStatus>();
  private readonly retries = new Map<string, { backoff: Backoff; timer: TimerHandle | undefined }>();
  private stopped = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    log: Logger,
    options: Partial<KubernetesLinkSourceOptions> = {},
  ) {
    this.options = { ...KUBERNETES_LINK_SOURCE_DEFAULTS, ...options };
    this.log = log.child({ component: 'kubelink-source' });
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Lists the KubeLinks (delivered to onChange before this resolves), then watches them. */
  async start(onChange: (resources: KubeLinkResource[]) => void): Promise<void> {
    if (this.informer) throw new Error('KubernetesLinkSource already started');
    this.informer = new ResilientInformer<KubeLinkResource>({
      ...this.options.informer,
      resource: KUBELINK_PLURAL,
      path: KUBELINKS_PATH,
      list: async (selectors) =>
        (await this.custom.listClusterCustomObject({ group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: KUBELINK_PLURAL, ...selectors })) as ListResult<KubeLinkResource>,
      watch: this.options.watch ?? new Watch(this.kubeConfig),
      onChange: (items) => onChange(items),
      onEvent: (event) => {
        if (event.type === 'deleted') this.forget(event.object.metadata.name);
      },
      clock: this.options.clock,
      log: this.log,
    });
    this.informer.start();
    try {
      await this.informer.waitForSync(this.options.initialSyncTimeoutMs);
    } catch (err) {
      await this.stop();
      throw new Error(`KubeLinks cannot be listed (is the CRD ${KUBELINK_PLURAL}.${KUBELINK_GROUP} installed?)`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const retry of this.retries.values()) if (retry.timer !== undefined) this.options.clock.clearTimeout(retry.timer);
    this.retries.clear();
    await this.informer?.stop();
    this.informer = undefined;
    const { clock, stopTimeoutMs } = this.options;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, stopTimeoutMs);
    });
    await Promise.race([this.writes.idle(), timeout]);
    clock.clearTimeout(timer);
  }

  /**
   * Makes the link's status `status` (state, message, gateway; absent fields are removed).
   * Writes for one link are serialized and coalesced; resolves when the status is written,
   * superseded, or found already set. A link that no longer exists is ignored.
   */
  reportStatus(name: string, status: KubeLinkStatus): Promise<void> {
    this.desired.set(name, { ...status });
    return this.writes.submit(name, { ...status });
  }

  private forget(name: string): void {
    this.written.delete(name);
    this.desired.delete(name);
    this.clearRetry(name);
  }

  private clearRetry(name: string): void {
    const retry = this.retries.get(name);
    if (retry?.timer !== undefined) this.options.clock.clearTimeout(retry.timer);
    this.retries.delete(name);
  }

  /** After a failed write: writes the latest reported status again after a backoff. */
  private scheduleRetry(name: string): void {
    if (this.stopped) return;
    let retry = this.retries.get(name);
    if (!retry) {
      const { statusRetryInitialMs: initialMs, statusRetryMaxMs: maxMs, random } = this.options;
      retry = { backoff: new Backoff({ initialMs, maxMs, factor: 2, random }), timer: undefined };
      this.retries.set(name, retry);
    }
    if (retry.timer !== undefined) return;
    const delayMs = retry.backoff.next();
    const entry = retry;
    entry.timer = this.options.clock.setTimeout(() => {
      entry.timer = undefined;
      const status = this.desired.get(name);
      if (this.stopped || !status) return;
      this.writes.submit(name, { ...status }).catch((err: unknown) => {
        this.log.warn('status write failed again; retrying', { link: name, attempt: entry.backoff.attempts, error: apiErrorMessage(err) });
      });
    }, delayMs);
  }

  private async writeStatus(name: string, wanted: KubeLinkStatus): Promise<void> {
    const cached = this.informer?.get(name);
    if (!cached) {
      this.log.debug('status for an unknown KubeLink dropped', { link: name, state: wanted.state });
      return;
    }
    const written = this.written.get(name);
    const effective = written && written.cachedResourceVersion === cached.metadata.resourceVersion ? written.status : cached.status;
    if (sameStatus(effective, wanted)) {
      this.clearRetry(name);
      return;
    }
    wanted = withTransitionTime(effective, wanted, new Date(this.options.clock.now()));
    try {
      await this.withinCallTimeout(
        this.custom.patchClusterCustomObjectStatus(
          { group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: KUBELINK_PLURAL, name, body: statusMergePatch(wanted) },
          // The generated client would send application/json-patch+json, which cannot add
          // fields to a status that does not exist yet.
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
        `patching status of KubeLink ${name}`,
      );
    } catch (err) {
      if (isNotFound(err)) {
        this.log.debug('KubeLink deleted before its status was written', { link: name });
        return;
      }
      this.scheduleRetry(name);
      throw apiError(`patching status of KubeLink ${name}`, err);
    }
    this.clearRetry(name);
    this.written.set(name, { status: wanted, cachedResourceVersion: cached.metadata.resourceVersion });
    this.log.debug('status written', { link: name, state: wanted.state, message: wanted.message });
    if (effective?.state !== wanted.state) await this.recordStateChange(cached, effective?.state, wanted);
  }

  private withinCallTimeout<T>(call: Promise<T>, what: string): Promise<T> {
    const ms = this.options.apiCallTimeoutMs;
    return withTimeout(this.options.clock, call, ms, `${what}: no answer from the API server within ${ms} ms`);
  }

  private async recordStateChange(link: KubeLinkResource, previous: KubeLinkStatus['state'], wanted: KubeLinkStatus): Promise<void> {
    const namespace = this.options.eventNamespace;
    const body = stateChangeEvent(link, previous, wanted, {
      namespace,
      component: this.options.component,
      host: this.options.host,
      now: new Date(this.options.clock.now()),
      uniqueSuffix: (this.eventCounter++ % 0x10000).toString(16).padStart(4, '0'),
    });
    try {
      await this.withinCallTimeout(this.core.createNamespacedEvent({ namespace, body }), 'creating an Event');
    } catch (err) {
      // Events are for humans; a failure must not fail the status write.
      this.log.warn('recording an Event failed', { link: link.metadata.name, error: apiErrorMessage(err) });
    }
  }
}
