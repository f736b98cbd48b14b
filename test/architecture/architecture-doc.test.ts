// docs/architecture.md stays true: every flag it names is in the flag table (the --help
// text is rendered from it) and every metric it names is registered by the broker, the
// router or the mesh DNS. A renamed flag or metric fails here until the document follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import client from 'prom-client';
import { helpText } from '../../src/main/flags.js';
import { BrokerMetrics } from '../../src/main/broker/broker-metrics.js';
import { RouterMetrics } from '../../src/main/router/router-metrics.js';
import { DnsMetrics } from '../../src/main/dns/dns-metrics.js';
import { CounterBlocks } from '../../src/shared/counters.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');

/** The distinct matches of `pattern`'s first group in `text`. */
function named(text: string, pattern: RegExp): string[] {
  return [...new Set([...text.matchAll(pattern)].map((m) => m[1]!))].sort();
}

/** Every metric name the broker, the router and the mesh DNS register. */
async function registeredMetrics(): Promise<Set<string>> {
  const broker = new BrokerMetrics(
    { counterBlocks: new CounterBlocks(CounterBlocks.allocate(3)), shardBlocks: [2], ringDrops: () => 0, ringFill: () => [] },
    () => [],
    () => 0,
    () => 0,
    () => 0,
    () => ({}),
    () => ({ manifestErrors: 0, staleFiles: 0 }),
    () => 'broker-0',
    () => undefined,
  );
  const router = new RouterMetrics(() => ({ manifestErrors: 0, staleFiles: 0 }));
  const dns = new client.Registry();
  new DnsMetrics(dns, { cacheEntries: () => 0, exchangesInFlight: () => 0, overloaded: () => 0, unexpectedUpstreamAnswers: () => 0 });
  const names = new Set<string>();
  for (const registry of [broker.registry, router.registry, dns]) {
    for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
  }
  return names;
}

test('the document names flags and metrics at all (guards the tests below against a broken pattern)', () => {
  assert.ok(named(DOC, /`(--[a-z][a-z-]*)/g).length >= 10);
  assert.ok(named(DOC, /\b(kubelink_[a-z_]+[a-z])/g).length >= 8);
});

test('every flag docs/architecture.md names is in the flag table', () => {
  const help = helpText();
  const missing = named(DOC, /(?<![\w-])(--[a-z][a-z-]*[a-z])/g).filter((flag) => !new RegExp(`(^|[\\s,])${flag}(?![\\w-])`, 'm').test(help));
  assert.deepEqual(missing, []);
});

test('every metric docs/architecture.md names is registered', async () => {
  const registered = await registeredMetrics();
  assert.ok(registered.has('kubelink_links'), 'the registries are read');
  const missing = named(DOC, /\b(kubelink_[a-z_]+[a-z])\b/g).filter((name) => !registered.has(name));
  assert.deepEqual(missing, []);
});
