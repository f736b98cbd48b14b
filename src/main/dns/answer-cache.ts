// A bounded cache of answers from cluster DNS servers, honouring their TTLs (RFC 1035)
// and caching negative answers for as long as their SOA says (RFC 2308: the smaller of
// the SOA record's TTL and its MINIMUM field). Least recently used entries go first when
// it is full. Time is injected, so tests step it instead of sleeping.
import type { Answer } from 'dns-packet';
import { Rcode } from './rcode.js';

export interface CachedAnswer {
  rcode: number;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export interface AnswerCacheOptions {
  /** Most entries kept; the least recently used one goes when another comes. */
  maxEntries: number;
  /** Upper bound for any entry's lifetime, whatever the TTLs say. */
  maxTtlSeconds: number;
}

export const DEFAULT_ANSWER_CACHE_OPTIONS: AnswerCacheOptions = { maxEntries: 10_000, maxTtlSeconds: 3600 };

interface Entry {
  answer: CachedAnswer;
  storedAtMs: number;
  expiresAtMs: number;
}

function ttlOf(record: Answer): number {
  return 'ttl' in record && typeof record.ttl === 'number' ? record.ttl : 0;
}

/** Seconds an answer may be cached, 0 for not at all. */
export function cacheSeconds(answer: CachedAnswer): number {
  if (answer.rcode === Rcode.NOERROR && answer.answers.length > 0) {
    return Math.min(...answer.answers.map(ttlOf));
  }
  if (answer.rcode === Rcode.NXDOMAIN || (answer.rcode === Rcode.NOERROR && answer.answers.length === 0)) {
    const soa = answer.authorities.find((r) => r.type === 'SOA');
    if (soa === undefined || soa.type !== 'SOA') return 0; // RFC 2308 section 5: no SOA, no negative caching
    return Math.min(ttlOf(soa), soa.data.minimum ?? 0);
  }
  return 0; // SERVFAIL and the like say nothing lasting
}

function agedRecords(records: Answer[], elapsedSeconds: number): Answer[] {
  return records.map((r) => ('ttl' in r && typeof r.ttl === 'number' ? { ...r, ttl: Math.max(0, r.ttl - elapsedSeconds) } : r));
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly options: AnswerCacheOptions,
    private readonly nowMs: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer with its TTLs counted down, or undefined (expired entries are dropped). */
  get(key: string): CachedAnswer | undefined {
    const entry = this.entries.get(key);
    const now = this.nowMs();
    if (entry === undefined || entry.expiresAtMs <= now) {
      if (entry !== undefined) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // Map order is insertion order: re-inserting makes this the most recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    const elapsed = Math.floor((now - entry.storedAtMs) / 1000);
    const { answer } = entry;
    return {
      ...answer,
      answers: agedRecords(answer.answers, elapsed),
      authorities: agedRecords(answer.authorities, elapsed),
      additionals: agedRecords(answer.additionals, elapsed),
    };
  }

  /** Stores an answer for as long as its TTLs allow; answers that may not be cached are ignored. */
  put(key: string, answer: CachedAnswer): void {
    const seconds = Math.min(cacheSeconds(answer), this.options.maxTtlSeconds);
    if (!(seconds > 0)) return;
    const now = this.nowMs();
    this.entries.delete(key);
    this.entries.set(key, { answer, storedAtMs: now, expiresAtMs: now + seconds * 1000 });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
