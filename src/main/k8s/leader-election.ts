// Leader election on a coordination.k8s.io/v1 Lease. @kubernetes/client-node has no
// helper for it, 2.x neither (checked in 2.0.1: no Lease lock or elector in its dist/), so
// this is ours; it uses the library only for CoordinationV1Api. Every retryPeriodMs the
// elector reads the Lease and acts on decideLease(): create it, renew it, take it over
// when free or expired, or follow.
// Every write carries the resourceVersion that was read, so of two electors racing for
// the same Lease exactly one write succeeds; the other gets 409 Conflict and follows.
//
// A leader steps down (onStoppedLeading) when a renewal is answered with 409 or the
// Lease names someone else, and also when it could not renew for renewDeadlineMs, even
// while an API call hangs, because a timer, not the next attempt, enforces the deadline.
// stop() steps down first and then releases the Lease (empty holder), so a standby takes
// over at its next attempt and two leaders never act at the same time.
import os from 'node:os';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { silentLogger } from '../../shared/log.js';
import type { Logger } from '../../shared/log.js';
import { apiError, apiErrorMessage, isConflict, isNotFound } from './api-error.js';
import { systemClock, withTimeout } from '../../shared/clock.js';
import type { Clock, TimerHandle } from '../../shared/clock.js';
import { decideLease, leaseSpecFor, releasedLeaseSpec, validateTimings } from './lease-decision.js';
import type { LeaderElectionTimings, LeaseView } from './lease-decision.js';

/** A Lease as read: its spec and what a conditional update needs. */
export interface StoredLease {
  resourceVersion: string;
  spec: LeaseView;
  /** The object as read, so an update keeps its labels and annotations. */
  raw?: V1Lease;
}

/** The I/O edge of the elector (tests use an in-memory store). */
export interface LeaseStore {
  /** The Lease, or undefined when it does not exist. */
  read(): Promise<StoredLease | undefined>;
  /** Creates the Lease; fails with 409 when it exists. */
  create(spec: LeaseView): Promise<StoredLease>;
  /** Replaces the spec if the Lease still has `previous.resourceVersion`; fails with 409 otherwise. */
  update(previous: StoredLease, spec: LeaseView): Promise<StoredLease>;
}

export interface LeaderElectionOptions extends Partial<LeaderElectionTimings> {
  /** Who we are in holderIdentity; default hostname_pid. */
  identity?: string;
  /** Called when this process became leader. */
  onStartedLeading: () => void | Promise<void>;
  /** Called when this process stopped being leader (lost, deadline passed, or stop()). */
  onStoppedLeading: () => void | Promise<void>;
  /** Called when the observed holder changes (undefined: nobody). */
  onNewLeader?: (identity: string | undefined) => void;
  /** Each API call taking longer counts as failed; default retryPeriodMs. */
  callTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

export const LEADER_ELECTION_DEFAULTS: LeaderElectionTimings = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export function defaultIdentity(): string {
  return `${os.hostname()}_${process.pid}`;
}

export class LeaderElector {
  readonly identity: string;
  private readonly timings: LeaderElectionTimings;
  private readonly callTimeoutMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private isLeading = false;
  private stopped = false;
  private started = false;
  private lastRenewMs = 0;
  private observedHolder: string | undefined = undefined;
  /** The Lease version last read and when (our clock) it was first seen. */
  private observed: { resourceVersion: string; atMs: number } | undefined;
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  /** A write made us the holder after stop() began: stop() must release the Lease although we never led. */
  private wonWhileStopping = false;
  private leadingWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaderElectionOptions,
  ) {
    this.timings = {
      leaseDurationSeconds: options.leaseDurationSeconds ?? LEADER_ELECTION_DEFAULTS.leaseDurationSeconds,
      renewDeadlineMs: options.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs,
    };
    validateTimings(this.timings);
    this.callTimeoutMs = options.callTimeoutMs ?? this.timings.retryPeriodMs;
    this.identity = options.identity ?? defaultIdentity();
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? silentLogger).child({ component: 'leader-election', identity: this.identity });
  }

  get leading(): boolean {
    return this.isLeading;
  }

  /** Starts trying to acquire the Lease at once, then every retryPeriodMs. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.scheduleTick(0);
  }

  /** Resolves when this elector leads; rejects when it is stopped first. */
  whenLeading(): Promise<void> {
    if (this.isLeading) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error('leader election stopped'));
    return new Promise((resolve, reject) => this.leadingWaiters.push({ resolve, reject }));
  }

  /** Stops; when leading, steps down (awaiting onStoppedLeading) and then releases the Lease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    await this.inFlight;
    const waiters = this.leadingWaiters;
    this.leadingWaiters = [];
    for (const w of waiters) w.reject(new Error('leader election stopped'));
    if (!this.isLeading && !this.wonWhileStopping) return;
    await this.stepDown('shutting down');
    try {
      const lease = await withTimeout(this.clock, this.store.read(), this.callTimeoutMs, 'reading the Lease timed out');
      if (lease && lease.spec.holderIdentity === this.identity) {
        await withTimeout(this.clock, this.store.update(lease, releasedLeaseSpec(lease.spec, this.clock.now())), this.callTimeoutMs, 'releasing the Lease timed out');
        this.log.info('lease released');
      }
    } catch (err) {
      this.log.warn('releasing the lease failed; a standby takes over when it expires', { error: apiErrorMessage(err) });
    }
  }

  private scheduleTick(delayMs: number): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.tickTimer = undefined;
      this.inFlight = this.tick().finally(() => {
        this.inFlight = undefined;
        this.scheduleTick(this.timings.retryPeriodMs);
      });
    }, delayMs);
  }

  private call<T>(promise: Promise<T>, what: string): Promise<T> {
    return withTimeout(this.clock, promise, this.callTimeoutMs, `${what} did not answer within ${this.callTimeoutMs} ms`);
  }

  /** One attempt: read, decide, write. Never throws. */
  private async tick(): Promise<void> {
    try {
      const lease = await this.call(this.store.read(), 'reading the Lease');
      if (this.stopped) return;
      const now = this.clock.now();
      // Expiry counts from when we first saw this version of the Lease, on our own clock.
      if (lease && lease.resourceVersion !== this.observed?.resourceVersion) this.observed = { resourceVersion: lease.resourceVersion, atMs: now };
      const action = decideLease(lease?.spec, this.identity, now, lease ? this.observed?.atMs : undefined);
      if (action.kind === 'follow') {
        this.observe(action.holder);
        if (this.isLeading) await this.stepDown(`the Lease is held by ${action.holder}`);
        return;
      }
      const spec = leaseSpecFor(action, lease?.spec, this.identity, now, this.timings.leaseDurationSeconds);
      if (action.kind === 'create') await this.call(this.store.create(spec), 'creating the Lease');
      else await this.call(this.store.update(lease!, spec), 'updating the Lease');
      if (this.stopped) {
        this.wonWhileStopping = true;
        return;
      }
      this.renewed(now);
      if (action.kind === 'acquire') this.log.info('lease acquired', { previousHolder: action.previousHolder });
      if (action.kind === 'create') this.log.info('lease created');
    } catch (err) {
      if (isConflict(err)) {
        // Someone else wrote the Lease between our read and our write: they won this round.
        this.log.debug('lost a Lease update race', { error: apiErrorMessage(err) });
        if (this.isLeading) await this.stepDown('the Lease was updated by someone else');
        return;
      }
      this.log.warn('leader election attempt failed', { error: apiErrorMessage(err), leading: this.isLeading });
      if (this.isLeading && this.clock.now() - this.lastRenewMs >= this.timings.renewDeadlineMs) {
        await this.stepDown(`could not renew since ${this.clock.now() - this.lastRenewMs} ms`);
      }
    }
  }

  private renewed(renewTimeMs: number): void {
    this.lastRenewMs = renewTimeMs;
    this.observe(this.identity);
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.isLeading) void this.stepDown(`renew deadline of ${this.timings.renewDeadlineMs} ms passed`);
    }, renewTimeMs + this.timings.renewDeadlineMs - this.clock.now());
    if (this.isLeading) return;
    this.isLeading = true;
    this.log.info('started leading');
    const waiters = this.leadingWaiters;
    this.leadingWaiters = [];
    for (const w of waiters) w.resolve();
    void this.runCallback('onStartedLeading', this.options.onStartedLeading);
  }

  private async stepDown(reason: string): Promise<void> {
    if (!this.isLeading) return;
    this.isLeading = false;
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.log.info('stopped leading', { reason });
    await this.runCallback('onStoppedLeading', this.options.onStoppedLeading);
  }

  private observe(holder: string | undefined): void {
    if (holder === this.observedHolder) return;
    this.observedHolder = holder;
    if (holder !== this.identity) this.log.info('new leader observed', { leader: holder });
    try {
      this.options.onNewLeader?.(holder);
    } catch (err) {
      this.log.error('onNewLeader failed', { error: err });
    }
  }

  private async runCallback(name: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error(`${name} failed`, { error: err });
    }
  }
}

// ---- the Kubernetes Lease store ----

function toMs(time: unknown): number | undefined {
  if (time === undefined || time === null) return undefined;
  // The generated client declares V1MicroTime but hands back the JSON string as is.
  const ms = time instanceof Date ? time.getTime() : Date.parse(String(time));
  return Number.isNaN(ms) ? undefined : ms;
}

function toView(spec: V1LeaseSpec | undefined): LeaseView {
  return {
    holderIdentity: spec?.holderIdentity,
    leaseDurationSeconds: spec?.leaseDurationSeconds,
    renewTimeMs: toMs(spec?.renewTime),
    acquireTimeMs: toMs(spec?.acquireTime),
    leaseTransitions: spec?.leaseTransitions,
  };
}

function toSpec(view: LeaseView, previous?: V1LeaseSpec): V1LeaseSpec {
  return {
    ...previous,
    holderIdentity: view.holderIdentity,
    leaseDurationSeconds: view.leaseDurationSeconds,
    // V1MicroTime serializes with microseconds (RFC 3339 micro), as the API expects.
    renewTime: view.renewTimeMs === undefined ? undefined : new V1MicroTime(view.renewTimeMs),
    acquireTime: view.acquireTimeMs === undefined ? undefined : new V1MicroTime(view.acquireTimeMs),
    leaseTransitions: view.leaseTransitions,
  };
}

function stored(lease: V1Lease): StoredLease {
  return { resourceVersion: lease.metadata?.resourceVersion ?? '', spec: toView(lease.spec), raw: lease };
}

/** The Lease `name` in `namespace`, through CoordinationV1Api. */
export function kubernetesLeaseStore(kubeConfig: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const where = `Lease ${namespace}/${name}`;
  return {
    async read() {
      try {
        return stored(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw apiError(`reading ${where}`, err);
      }
    },
    async create(spec) {
      const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: toSpec(spec) };
      try {
        return stored(await api.createNamespacedLease({ namespace, body }));
      } catch (err) {
        if (isConflict(err)) throw err;
        throw apiError(`creating ${where}`, err);
      }
    },
    async update(previous, spec) {
      const raw = previous.raw;
      const body: V1Lease = {
        ...raw,
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { ...raw?.metadata, name, namespace, resourceVersion: previous.resourceVersion },
        spec: toSpec(spec, raw?.spec),
      };
      try {
        return stored(await api.replaceNamespacedLease({ name, namespace, body }));
      } catch (err) {
        if (isConflict(err)) throw err;
        throw apiError(`updating ${where}`, err);
      }
    },
  };
}
