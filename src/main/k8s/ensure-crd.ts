// Installs the KubeLink CRD (and the MeshService CRD) at broker start (the seed: "the crd will automatically be
// deployed by the controller manager"): create it when absent, replace its spec when it
// differs from ours, leave it alone when it matches, then wait until kubelinks are served.
//
// Goes through CustomObjectsApi (plain JSON bodies) and not ApiextensionsV1Api: the
// generated model renames `enum` and `default` to `_enum`/`_default` and would drop them
// from a plain object, so the schema would lose its enum.
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../shared/log.js';
import { apiError, apiErrorMessage, isConflict, isNotFound } from './api-error.js';
import { sleep, systemClock } from '../../shared/clock.js';
import type { Clock } from '../../shared/clock.js';
import { KUBELINK_CRD } from './kubelink-crd.js';

export interface EnsureCrdOptions {
  /** How long to wait for the API server to serve kubelinks after a create or update. */
  servedTimeoutMs: number;
  servedPollMs: number;
  /** Attempts when updates conflict with concurrent writers (another replica). */
  maxConflictRetries: number;
  clock: Clock;
}

export const ENSURE_CRD_DEFAULTS: EnsureCrdOptions = { servedTimeoutMs: 30_000, servedPollMs: 250, maxConflictRetries: 5, clock: systemClock };

export type EnsureCrdResult = 'created' | 'updated' | 'unchanged';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * True when every member of `desired` is present in `actual` with the same value; members
 * only `actual` has (defaults the server filled in) do not matter. Arrays must match
 * element by element.
 */
export function containsDesired(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => containsDesired(actual[i], d));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(desired).every(([k, v]) => containsDesired(a[k], v));
  }
  return actual === desired;
}

const CRD_API = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };

interface CrdObject {
  metadata?: { resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  spec?: unknown;
  [k: string]: unknown;
}

/** The parts of a CRD definition (KUBELINK_CRD, MESHSERVICE_CRD) ensureCrd reads. */
export interface CrdDefinition {
  metadata: { name: string; labels: Readonly<Record<string, string>> };
  spec: { group: string; names: { plural: string }; versions: readonly { name: string }[] };
}

/**
 * Creates or updates a CRD (default: KubeLink); resolves once its resources are served (or
 * after a warning on timeout).
 */
export async function ensureCrd(kubeConfig: KubeConfig, log: Logger, options: Partial<EnsureCrdOptions> = {}, crd: CrdDefinition = KUBELINK_CRD): Promise<EnsureCrdResult> {
  const o = { ...ENSURE_CRD_DEFAULTS, ...options };
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const crdName = crd.metadata.name;
  const served = { group: crd.spec.group, version: crd.spec.versions[0]!.name, plural: crd.spec.names.plural };
  const desired = JSON.parse(JSON.stringify(crd)) as { metadata: { labels: Record<string, string> }; spec: Json };
  let result: EnsureCrdResult | undefined;
  for (let attempt = 0; result === undefined; attempt++) {
    if (attempt > o.maxConflictRetries) throw new Error(`CRD ${crdName}: still conflicting after ${o.maxConflictRetries} retries`);
    let existing: CrdObject | undefined;
    try {
      existing = (await api.getClusterCustomObject({ ...CRD_API, name: crdName })) as CrdObject;
    } catch (err) {
      if (!isNotFound(err)) throw apiError(`reading CRD ${crdName}`, err);
    }
    try {
      if (!existing) {
        await api.createClusterCustomObject({ ...CRD_API, body: desired });
        result = 'created';
      } else if (containsDesired(existing.spec, desired.spec) && containsDesired(existing.metadata?.labels ?? {}, desired.metadata.labels)) {
        result = 'unchanged';
      } else {
        const body = {
          ...existing,
          metadata: { ...existing.metadata, labels: { ...existing.metadata?.labels, ...desired.metadata.labels } },
          spec: desired.spec,
        };
        await api.replaceClusterCustomObject({ ...CRD_API, name: crdName, body });
        result = 'updated';
      }
    } catch (err) {
      // AlreadyExists (a concurrent create) or a stale resourceVersion: read again.
      if (isConflict(err)) {
        log.debug('CRD write conflicted; retrying', { error: apiErrorMessage(err) });
        continue;
      }
      throw apiError(`${existing ? 'updating' : 'creating'} CRD ${crdName}`, err);
    }
  }
  log.info(`CRD ${result}`, { crd: crdName });
  if (result !== 'unchanged') await waitUntilServed(api, log, o, served);
  return result;
}

async function waitUntilServed(api: CustomObjectsApi, log: Logger, o: EnsureCrdOptions, served: { group: string; version: string; plural: string }): Promise<void> {
  const deadline = o.clock.now() + o.servedTimeoutMs;
  let lastError: unknown;
  while (o.clock.now() < deadline) {
    try {
      await api.listClusterCustomObject({ ...served, limit: 1 });
      return;
    } catch (err) {
      lastError = err;
    }
    await sleep(o.clock, o.servedPollMs);
  }
  log.warn(`${served.plural} not served yet after installing the CRD; the informer keeps retrying`, {
    timeoutMs: o.servedTimeoutMs,
    error: lastError === undefined ? undefined : apiErrorMessage(lastError),
  });
}
