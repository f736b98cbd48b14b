// The decisions of Lease-based leader election, free of I/O and clocks, so every case
// (absent, held, expired, released, lost, renew deadline) is unit-tested as a pure
// function. leader-election.ts does the API calls around them.
//
// Expiry is judged as client-go does: from the time THIS observer first saw the lease
// record it holds (its resourceVersion), plus leaseDurationSeconds, all on the observer's
// own clock. The holder's renewTime is written by another node's clock; trusting it would
// let a standby whose clock runs ahead take a healthy leader's lease. Without an
// observation time (pure callers, tests) renewTime is used.

/** What the decisions need of a coordination.k8s.io/v1 Lease spec, times in ms. */
export interface LeaseView {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTimeMs?: number;
  acquireTimeMs?: number;
  leaseTransitions?: number;
}

export type LeaseAction =
  /** No Lease object exists: create it holding it. */
  | { kind: 'create' }
  /** We hold it: renew (update renewTime with the resourceVersion read). */
  | { kind: 'renew' }
  /** Nobody holds it (released, or expired): take it over. */
  | { kind: 'acquire'; previousHolder: string | undefined }
  /** Someone else holds it and it is not expired: wait. */
  | { kind: 'follow'; holder: string; expiresAtMs: number };

/**
 * When a held lease expires, or undefined when nobody holds it. `observedAtMs`: when this
 * observer first saw the record as it is now (its own clock); default the record's renewTime.
 */
export function leaseExpiresAt(lease: LeaseView, observedAtMs?: number): number | undefined {
  if (!lease.holderIdentity) return undefined;
  return (observedAtMs ?? lease.renewTimeMs ?? 0) + (lease.leaseDurationSeconds ?? 0) * 1000;
}

/** True when nobody holds the lease or its holder failed to renew in time. */
export function leaseAvailable(lease: LeaseView, nowMs: number, observedAtMs?: number): boolean {
  const expiresAt = leaseExpiresAt(lease, observedAtMs);
  return expiresAt === undefined || expiresAt < nowMs;
}

/** What `identity` should do with the lease as read (undefined: it does not exist). */
export function decideLease(lease: LeaseView | undefined, identity: string, nowMs: number, observedAtMs?: number): LeaseAction {
  if (!lease) return { kind: 'create' };
  if (lease.holderIdentity === identity) return { kind: 'renew' };
  if (leaseAvailable(lease, nowMs, observedAtMs)) return { kind: 'acquire', previousHolder: lease.holderIdentity || undefined };
  return { kind: 'follow', holder: lease.holderIdentity!, expiresAtMs: leaseExpiresAt(lease, observedAtMs)! };
}

/** The spec to write for a create, renew or acquire. */
export function leaseSpecFor(
  action: Exclude<LeaseAction, { kind: 'follow' }>,
  current: LeaseView | undefined,
  identity: string,
  nowMs: number,
  leaseDurationSeconds: number,
): LeaseView {
  switch (action.kind) {
    case 'create':
      return { holderIdentity: identity, leaseDurationSeconds, acquireTimeMs: nowMs, renewTimeMs: nowMs, leaseTransitions: 0 };
    case 'renew':
      return { ...current, holderIdentity: identity, leaseDurationSeconds, renewTimeMs: nowMs };
    case 'acquire': {
      const transitions = current?.leaseTransitions ?? 0;
      // Taking over from a holder counts as a transition; re-acquiring a lease that was free
      // after our own release (or never held) does too, as in client-go.
      return { holderIdentity: identity, leaseDurationSeconds, acquireTimeMs: nowMs, renewTimeMs: nowMs, leaseTransitions: transitions + 1 };
    }
  }
}

/**
 * The spec that releases a lease we hold: no holder, so a standby takes it at its next
 * attempt instead of waiting for expiry.
 */
export function releasedLeaseSpec(current: LeaseView, nowMs: number): LeaseView {
  return { ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTimeMs: nowMs };
}

/**
 * A leader that could not renew since `lastRenewMs` must stop acting as leader once the
 * renew deadline passed: others may take the lease over when it expires.
 */
export function renewDeadlinePassed(lastRenewMs: number, nowMs: number, renewDeadlineMs: number): boolean {
  return nowMs - lastRenewMs >= renewDeadlineMs;
}

export interface LeaderElectionTimings {
  /** How long a lease is valid after its last renewal (written into the Lease). */
  leaseDurationSeconds: number;
  /** A leader that could not renew for this long steps down; must be < the lease duration. */
  renewDeadlineMs: number;
  /** Interval of acquire attempts and renewals. */
  retryPeriodMs: number;
}

/** Checks that the timings can work: renewals happen before the deadline, the deadline before expiry. */
export function validateTimings(t: LeaderElectionTimings): void {
  if (!(Number.isInteger(t.leaseDurationSeconds) && t.leaseDurationSeconds >= 1)) {
    throw new RangeError(`leaseDurationSeconds must be an integer >= 1, got ${t.leaseDurationSeconds}`);
  }
  if (!(t.retryPeriodMs > 0)) throw new RangeError(`retryPeriodMs must be > 0, got ${t.retryPeriodMs}`);
  if (!(t.renewDeadlineMs > t.retryPeriodMs)) {
    throw new RangeError(`renewDeadlineMs (${t.renewDeadlineMs}) must be greater than retryPeriodMs (${t.retryPeriodMs})`);
  }
  if (!(t.renewDeadlineMs < t.leaseDurationSeconds * 1000)) {
    throw new RangeError(`renewDeadlineMs (${t.renewDeadlineMs}) must be less than leaseDurationSeconds (${t.leaseDurationSeconds} s)`);
  }
}
