// What a KubeLink status write consists of, as pure functions: when a write is needed,
// the merge patch that makes it, and the Event that records a state change.
import type { CoreV1Event } from '@kubernetes/client-node';
import { KUBELINK_API_VERSION, KUBELINK_KIND } from '../../shared/types.js';
import type { KubeLinkResource, KubeLinkStatus, LinkState } from '../../shared/types.js';

/** What the broker reports; lastTransitionTime is derived by the writer (withTransitionTime). */
const REPORTED_FIELDS = ['state', 'message', 'gateway', 'rttMs', 'rxBytes', 'txBytes', 'statsTime'] as const;
const STATUS_FIELDS = [...REPORTED_FIELDS, 'lastTransitionTime'] as const;

/** Equal when every reported field is equal; absent, null and undefined are the same. */
export function sameStatus(a: KubeLinkStatus | undefined, b: KubeLinkStatus | undefined): boolean {
  return REPORTED_FIELDS.every((f) => (a?.[f] ?? undefined) === (b?.[f] ?? undefined));
}

/**
 * `wanted` with lastTransitionTime: kept from `current` while the state stays, `now` when
 * it changes (or was never recorded).
 */
export function withTransitionTime(current: KubeLinkStatus | undefined, wanted: KubeLinkStatus, now: Date): KubeLinkStatus {
  const kept = current?.state === wanted.state ? current?.lastTransitionTime : undefined;
  return { ...wanted, lastTransitionTime: kept ?? now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
}

/**
 * A JSON merge patch (RFC 7386) for /status that makes the status exactly `wanted`: absent
 * fields become null, which deletes them. No resourceVersion: a status write never
 * conflicts, the broker is the only writer and its latest opinion is the truth.
 */
export function statusMergePatch(wanted: KubeLinkStatus): { status: Record<(typeof STATUS_FIELDS)[number], string | number | null> } {
  return { status: Object.fromEntries(STATUS_FIELDS.map((f) => [f, wanted[f] ?? null])) as Record<(typeof STATUS_FIELDS)[number], string | number | null> };
}

/** Event type and reason per state: Up is normal, every other state asks for attention. */
const STATE_EVENT: Record<LinkState, { type: 'Normal' | 'Warning'; reason: string }> = {
  Up: { type: 'Normal', reason: 'LinkUp' },
  Down: { type: 'Warning', reason: 'LinkDown' },
  Error: { type: 'Warning', reason: 'LinkError' },
  Invalid: { type: 'Warning', reason: 'LinkInvalid' },
};

export interface EventContext {
  namespace: string;
  /** source.component / reportingComponent, e.g. kubelink-broker. */
  component: string;
  /** source.host / reportingInstance. */
  host: string;
  now: Date;
  /** Makes the Event name unique, e.g. a counter. */
  uniqueSuffix: string;
}

/** The core/v1 Event recording that `link` changed to `wanted.state` (from `previous`). */
export function stateChangeEvent(link: KubeLinkResource, previous: LinkState | undefined, wanted: KubeLinkStatus, ctx: EventContext): CoreV1Event {
  const state = wanted.state ?? 'Down';
  const { type, reason } = STATE_EVENT[state];
  const transition = previous ? `${previous} -> ${state}` : state;
  const message = wanted.message ? `${transition}: ${wanted.message}` : transition;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${link.metadata.name}.${ctx.now.getTime().toString(16)}${ctx.uniqueSuffix}`, namespace: ctx.namespace },
    involvedObject: {
      apiVersion: KUBELINK_API_VERSION,
      kind: KUBELINK_KIND,
      name: link.metadata.name,
      uid: link.metadata.uid,
      resourceVersion: link.metadata.resourceVersion,
    },
    type,
    reason,
    // The API limits an Event message to 1 KiB.
    message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
    count: 1,
    firstTimestamp: ctx.now,
    lastTimestamp: ctx.now,
    source: { component: ctx.component, host: ctx.host },
    reportingComponent: ctx.component,
    reportingInstance: ctx.host,
  };
}
