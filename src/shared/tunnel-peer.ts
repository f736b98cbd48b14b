// When a changed KubeLink means a different peer. The main thread (TunnelManager) then
// closes the link's tunnel and dials again, and each shard closes its connection of the
// link (shard.ts); both use this one rule so they never disagree on whether a tunnel
// survives an edit. Anything else (cidr, egress, ingress) changes in place.

/** What names the peer at the other end of a link's tunnel. */
export interface TunnelPeer {
  endpointHost: string;
  endpointPort: number;
  clusterAddress: number;
}

export function tunnelPeerChanged(before: TunnelPeer, after: TunnelPeer): boolean {
  return before.endpointHost !== after.endpointHost || before.endpointPort !== after.endpointPort || before.clusterAddress !== after.clusterAddress;
}
