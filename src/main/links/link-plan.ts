// The link plan: which KubeLinks this replica serves, and which are Invalid and why. One
// pure function for the broker and the router, so both take the same links and settle a
// conflict the same way (docs/architecture.md, "How a KubeLink flows"):
//
//   resources -> validation (each link alone and against the local networks, then
//   conflicts: the older link by metadata.creationTimestamp wins, link-validation.ts)
//   -> the served-links filter (--served-links) -> capacity (link ids and route table
//   entries; links served already keep their place, so one link too many never takes
//   down a working one).
//
// Extension points: checks of one link's own fields (e.g. spec.egress, spec.ingress) go
// into link-validation's validateOne, rules between links into its conflictWith, and
// anything that decides which valid links this replica serves into planLinks below.
import { formatPrefix, interfaceNetwork, parseInterface } from '../../shared/cidr.js';
import type { Ipv4Prefix, KubeLinkResource, ValidLink } from '../../shared/types.js';
import { tunnelDestinations, validateLinks, validationMessage, type LocalNetworks } from './link-validation.js';

/** How many links, and route table entries, one replica can serve. */
export interface LinkCapacity {
  /** Link ids of the data path (DatapathOptions.maxLinks). */
  links: number;
  /** Destinations of the data path's route table (cidr, egress and cluster address of every link). */
  routeEntries: number;
}

export interface PlanSettings extends LocalNetworks {
  /** --served-links: the names this replica serves, or 'all'. */
  servedLinks: 'all' | readonly string[];
  capacity: LinkCapacity;
}

/** A link that is Invalid, with what its status.message says. */
export interface InvalidLink {
  name: string;
  /** The field at fault, when the link itself is at fault (not for capacity). */
  field?: string;
  reason: string;
  message: string;
}

export interface LinkPlan {
  /** The valid links this replica serves, in resource order. */
  served: ValidLink[];
  /** Valid links left to other brokers by --served-links. */
  elsewhere: ValidLink[];
  /** Invalid links: validation failures and links beyond the capacity. */
  invalid: InvalidLink[];
}

/** Route table entries a link takes: its tunnel destinations and its cluster address. */
export function routeEntriesOf(link: ValidLink): number {
  return tunnelDestinations(link).length + 1;
}

/**
 * Plans `resources` for this replica. `current` names the links served now: they keep
 * their place when the capacity runs out. Pure: same input, same plan.
 */
export function planLinks(resources: readonly KubeLinkResource[], settings: PlanSettings, current: ReadonlySet<string>): LinkPlan {
  const invalid: InvalidLink[] = [];
  const wanted: ValidLink[] = [];
  const elsewhere: ValidLink[] = [];
  for (const result of validateLinks(resources, settings)) {
    if (!result.ok) invalid.push({ name: result.name, field: result.field, reason: result.reason, message: validationMessage(result) });
    else if (settings.servedLinks === 'all' || settings.servedLinks.includes(result.link.name)) wanted.push(result.link);
    else elsewhere.push(result.link);
  }

  const { links: maxLinks, routeEntries: maxEntries } = settings.capacity;
  if (wanted.length <= maxLinks && wanted.reduce((n, l) => n + routeEntriesOf(l), 0) <= maxEntries) return { served: wanted, elsewhere, invalid };
  const ordered = [...wanted].sort((a, b) => Number(current.has(b.name)) - Number(current.has(a.name)) || a.name.localeCompare(b.name));
  const kept = new Set<string>();
  let used = 0;
  for (const link of ordered) {
    if (kept.size < maxLinks && used + routeEntriesOf(link) <= maxEntries) {
      kept.add(link.name);
      used += routeEntriesOf(link);
      continue;
    }
    const reason =
      kept.size >= maxLinks
        ? `this broker serves at most ${maxLinks} links`
        : `the data path's route table holds at most ${maxEntries} destinations (cidr, egress and cluster address of all links)`;
    invalid.push({ name: link.name, reason, message: reason });
  }
  return { served: wanted.filter((l) => kept.has(l.name)), elsewhere, invalid };
}

/**
 * The mesh network as the links see it, for a replica without --link-address (the
 * router): the network most links' spec.clusterAddress agree on; ties go to the lowest.
 */
export function meshNetworkOfLinks(resources: readonly KubeLinkResource[]): Ipv4Prefix | undefined {
  const counts = new Map<string, { prefix: Ipv4Prefix; count: number }>();
  for (const r of resources) {
    const address = parseInterface(String(r.spec?.clusterAddress ?? ''));
    if (!address.ok) continue;
    const prefix = interfaceNetwork(address.value);
    const key = formatPrefix(prefix);
    const entry = counts.get(key) ?? { prefix, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  let best: { prefix: Ipv4Prefix; count: number } | undefined;
  for (const entry of counts.values()) {
    const lower = best !== undefined && (entry.prefix.network < best.prefix.network || (entry.prefix.network === best.prefix.network && entry.prefix.prefixLength < best.prefix.prefixLength));
    if (!best || entry.count > best.count || (entry.count === best.count && lower)) best = entry;
  }
  return best?.prefix;
}
