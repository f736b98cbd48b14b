// The broker's MeshService controller (docs/architecture.md, "MeshService"): watches
// MeshServices, Services and EndpointSlices of all namespaces, and on every change (and
// every periodic broker network repair, which restores deleted rules) computes the plan
// (mesh-service-plan.ts), applies its NAT (mesh-nat.ts: one iptables-save, and one
// iptables-restore only when something differs), hands the published addresses and ports
// to the shards' inbound check and the Ok MeshServices to the mesh DNS, and writes each
// MeshService's status.
//
// Status writes go out only where the cached status differs from the plan; a failed
// write is simply tried again by the next reconcile. A Service that does not exist yet
// makes its MeshService Error; the Service's creation is a change of the watched Services
// and re-runs the plan, so the MeshService turns Ok without anyone touching it.
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { KUBELINK_GROUP, KUBELINK_VERSION, MESHSERVICE_PLURAL, type MeshServiceResource, type MeshServiceStatus, type ValidLink } from '../../shared/types.js';
import type { PublishedAddress } from '../../shared/inbound-filter.js';
import type { Ipv4Interface } from '../../shared/cidr.js';
import type { Logger } from '../../shared/log.js';
import { createCoalescedTask, type CoalescedTask } from '../../shared/coalesced-task.js';
import { systemClock, withTimeout } from '../../shared/clock.js';
import { apiErrorMessage, isNotFound } from '../k8s/api-error.js';
import { ResilientInformer, type InformedObject, type ListResult } from '../k8s/informer.js';
import type { MeshServiceEntry } from '../dns/mesh-service-zone.js';
import { MeshNat } from './mesh-nat.js';
import { planMeshServices, type EndpointSliceObject, type MeshPlan, type ServiceObject } from './mesh-service-plan.js';
import type { MeshLocal } from './mesh-service-validation.js';

const MESHSERVICES = { group: KUBELINK_GROUP, version: KUBELINK_VERSION, plural: MESHSERVICE_PLURAL };
const STATUS_FIELDS = ['state', 'message', 'address'] as const;

export interface MeshServiceControllerOptions {
  kubeConfig: KubeConfig;
  /** The broker's TUN device (names the NAT chains). */
  ifname: string;
  linkAddress: Ipv4Interface;
  /** The shards get the published addresses and ports. */
  publish: (published: PublishedAddress[]) => void;
  /** The mesh DNS gets the Ok MeshServices with their ports (their names). */
  publishNames?: (entries: MeshServiceEntry[]) => void;
  log: Logger;
  /** start() fails when the first lists have not succeeded within this time. */
  initialSyncTimeoutMs?: number;
  /** A status patch without answer in this time counts as failed. */
  apiCallTimeoutMs?: number;
  /** Network namespace of the NAT (tests); default: the process's own. */
  netns?: string;
}

function sameStatus(a: MeshServiceStatus | undefined, b: MeshServiceStatus): boolean {
  return STATUS_FIELDS.every((f) => (a?.[f] ?? undefined) === (b[f] ?? undefined));
}

export class MeshServiceController {
  private readonly log: Logger;
  private readonly custom: CustomObjectsApi;
  private readonly nat: MeshNat;
  private readonly informers: { start(): void; waitForSync(ms?: number): Promise<void>; stop(): Promise<void> }[] = [];
  private meshServices: ResilientInformer<MeshServiceResource> | undefined;
  private services: ResilientInformer<ServiceObject & InformedObject> | undefined;
  private slices: ResilientInformer<EndpointSliceObject & InformedObject> | undefined;
  private links: Pick<MeshLocal, 'linkClusterAddresses' | 'linkEgress'> = { linkClusterAddresses: [], linkEgress: [] };
  private lastPublished = '';
  private lastNames = '';
  private current: PublishedAddress[] = [];
  private started = false;
  private readonly task: CoalescedTask;

  constructor(private readonly options: MeshServiceControllerOptions) {
    this.log = options.log;
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.nat = new MeshNat(options.ifname, { netns: options.netns });
    this.task = createCoalescedTask(() => this.reconcileOnce(), 0, (err) => this.log.error('MeshService reconcile failed', { err }));
  }

  /** The addresses and ports published now (for shards that start later). */
  published(): PublishedAddress[] {
    return this.current;
  }

  async start(): Promise<void> {
    const { kubeConfig } = this.options;
    const watch = new Watch(kubeConfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const onChange = () => void this.reconcile();
    const common = { watch, onChange, clock: systemClock, log: this.log };
    this.meshServices = new ResilientInformer<MeshServiceResource>({
      ...common,
      resource: MESHSERVICE_PLURAL,
      path: `/apis/${KUBELINK_GROUP}/${KUBELINK_VERSION}/${MESHSERVICE_PLURAL}`,
      list: async (selectors) => (await this.custom.listClusterCustomObject({ ...MESHSERVICES, ...selectors })) as ListResult<MeshServiceResource>,
    });
    this.services = new ResilientInformer<ServiceObject & InformedObject>({
      ...common,
      resource: 'services',
      path: '/api/v1/services',
      list: async (selectors) => (await core.listServiceForAllNamespaces(selectors)) as ListResult<ServiceObject & InformedObject>,
    });
    this.slices = new ResilientInformer<EndpointSliceObject & InformedObject>({
      ...common,
      resource: 'endpointslices',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: async (selectors) => (await discovery.listEndpointSliceForAllNamespaces(selectors)) as unknown as ListResult<EndpointSliceObject & InformedObject>,
    });
    this.informers.push(this.meshServices, this.services, this.slices);
    for (const informer of this.informers) informer.start();
    try {
      const timeout = this.options.initialSyncTimeoutMs ?? 60_000;
      await Promise.all(this.informers.map((i) => i.waitForSync(timeout)));
    } catch (err) {
      await this.stop();
      throw new Error('MeshServices, Services or EndpointSlices cannot be listed (is the MeshService CRD installed, may the broker list them?)', { cause: err });
    }
    this.started = true;
    await this.reconcile();
  }

  /**
   * The valid KubeLinks changed: a mesh address must be neither a link's cluster address nor
   * inside a link's spec.egress. Re-plans only when either changed.
   */
  setLinks(links: readonly Pick<ValidLink, 'name' | 'clusterAddress' | 'egress'>[]): void {
    const next = {
      linkClusterAddresses: links.map((l) => l.clusterAddress).sort((a, b) => a - b),
      linkEgress: links.flatMap((l) => l.egress.map((prefix, index) => ({ link: l.name, index, prefix }))),
    };
    const changed = JSON.stringify(next) !== JSON.stringify(this.links);
    this.links = next;
    if (changed) void this.reconcile();
  }

  /** Runs one reconcile now (or waits for the running one and one more). */
  reconcile(): Promise<void> {
    return this.started ? this.task.run() : Promise.resolve();
  }

  private async reconcileOnce(): Promise<void> {
    const resources = this.meshServices?.items() ?? [];
    const plan = planMeshServices(resources, this.services?.items() ?? [], this.slices?.items() ?? [], {
      linkAddress: this.options.linkAddress,
      ...this.links,
    });
    if (await this.nat.reconcile(plan.mappings)) this.log.info('MeshService NAT updated', { mappings: plan.mappings.map((m) => m.key) });
    const published = JSON.stringify(plan.published);
    if (published !== this.lastPublished) {
      this.current = plan.published;
      this.options.publish(plan.published);
      this.lastPublished = published;
    }
    const names = JSON.stringify(plan.names);
    if (names !== this.lastNames) {
      this.options.publishNames?.(plan.names);
      this.lastNames = names;
    }
    await this.writeStatuses(resources, plan);
  }

  private async writeStatuses(resources: readonly MeshServiceResource[], plan: MeshPlan): Promise<void> {
    for (const resource of resources) {
      const { name, namespace = '' } = resource.metadata;
      const key = `${namespace}/${name}`;
      const wanted = plan.statuses.get(key);
      if (!wanted || sameStatus(resource.status, wanted)) continue;
      const body = { status: Object.fromEntries(STATUS_FIELDS.map((f) => [f, wanted[f] ?? null])) };
      try {
        const ms = this.options.apiCallTimeoutMs ?? 15_000;
        await withTimeout(
          systemClock,
          this.custom.patchNamespacedCustomObjectStatus({ ...MESHSERVICES, namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
          ms,
          `patching status of MeshService ${key}: no answer within ${ms} ms`,
        );
        if (resource.status?.state !== wanted.state) this.log.info('MeshService state', { meshService: key, state: wanted.state, message: wanted.message });
      } catch (err) {
        if (isNotFound(err)) continue;
        this.log.warn('MeshService status write failed; the next reconcile tries again', { meshService: key, error: apiErrorMessage(err) });
      }
    }
  }

  /** Stops watching and removes the NAT (the shards stop with the data plane). */
  async stop(): Promise<void> {
    this.started = false;
    await this.task.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    this.informers.length = 0;
    try {
      await this.nat.remove();
    } catch (err) {
      this.log.warn('removing the MeshService NAT failed', { err });
    }
  }
}
