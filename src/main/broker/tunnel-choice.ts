// Which connection carries a link's traffic. Both brokers dial each other eagerly, so two
// connections can come up at once; both sides must keep the same one without talking
// about it. Rule: the connection dialed by the broker with the lower cluster address wins.
// A lone connection is used whatever its direction, so a one-way reachable pair still
// works. Between two connections of the same direction (a reconnect racing a dead one)
// the newer wins, because the older one is the likelier to be half-dead.

export interface CandidateConnection {
  connId: number;
  /** True when this broker dialed it, false when it was accepted. */
  dialed: boolean;
}

export interface TunnelDecision {
  /** The connection that carries the link from now on. */
  keep: number;
  /** Connections to close (the loser, if any). */
  close: number[];
}

export function preferredDirectionIsDialed(localAddress: number, peerAddress: number): boolean {
  return localAddress < peerAddress;
}

/**
 * Decides between the link's active connection (if any) and a newly established one.
 */
export function chooseTunnel(
  active: CandidateConnection | undefined,
  incoming: CandidateConnection,
  localAddress: number,
  peerAddress: number,
): TunnelDecision {
  if (!active) return { keep: incoming.connId, close: [] };
  const preferDialed = preferredDirectionIsDialed(localAddress, peerAddress);
  const activePreferred = active.dialed === preferDialed;
  const incomingPreferred = incoming.dialed === preferDialed;
  if (activePreferred && !incomingPreferred) return { keep: active.connId, close: [incoming.connId] };
  return { keep: incoming.connId, close: [active.connId] };
}
