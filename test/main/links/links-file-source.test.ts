import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FileLinkSource, parseLinkManifests } from '../../../src/main/links/links-file-source.js';
import type { FileLinkSourceOptions } from '../../../src/main/links/links-file-source.js';
import { createLogger } from '../../../src/shared/log.js';
import { validateLinks } from '../../../src/main/links/link-validation.js';
import { parseInterface } from '../../../src/shared/cidr.js';
import type { KubeLinkResource } from '../../../src/shared/types.js';

/** Upper bound for waiting on a file-system change; a guard against hangs, not a speed test. */
const WAIT_LIMIT_MS = 15_000;

function manifest(name: string, cidr = '100.64.16.0/20', extra = ''): string {
  return [
    'apiVersion: kubelink.mandelsoft.org/v1alpha1',
    'kind: KubeLink',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  cidr: ${cidr}`,
    '  clusterAddress: 192.168.0.12/24',
    '  endpoint: broker.c2.kubelink.lab:8088',
    extra,
  ].join('\n');
}

test('parseLinkManifests reads several documents and List items, skipping empty documents', () => {
  const text = [
    manifest('a'),
    '---',
    '---',
    'apiVersion: v1',
    'kind: List',
    'items:',
    '- apiVersion: kubelink.mandelsoft.org/v1alpha1',
    '  kind: KubeLink',
    '  metadata: { name: b }',
    '  spec: { cidr: 100.64.32.0/20, clusterAddress: 192.168.0.13/24, endpoint: b.example }',
  ].join('\n');
  const parsed = parseLinkManifests(text, 'f.yaml');
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.resources.map((r) => r.metadata.name), ['a', 'b']);
  assert.deepEqual(parsed.resources[1]!.spec, { cidr: '100.64.32.0/20', clusterAddress: '192.168.0.13/24', endpoint: 'b.example' });
  assert.equal(parsed.resources[0]!.kind, 'KubeLink');
});

test('parseLinkManifests passes cidr, egress and ingress on as written and leaves out what is absent', () => {
  const text = manifest('c2').replace('  cidr: 100.64.16.0/20\n', '  egress: [192.168.0.100/32]\n  ingress: ["!100.64.0.20/32"]\n');
  const parsed = parseLinkManifests(text, 'f.yaml');
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.resources[0]!.spec, {
    clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab:8088', egress: ['192.168.0.100/32'], ingress: ['!100.64.0.20/32'],
  });
});

test('parseLinkManifests reports file, document, name, field and reason for each bad manifest', () => {
  const text = [
    manifest('good'),
    '---',
    manifest('noaddress').replace('  clusterAddress: 192.168.0.12/24\n', ''),
    '---',
    manifest('oldapi').replace('v1alpha1', 'v1beta9'),
    '---',
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}',
    '---',
    'apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: KubeLink\nspec: {}',
    '---',
    manifest('numeric').replace('endpoint: broker.c2.kubelink.lab:8088', 'endpoint: 42'),
    '---',
    'kind: List\nitems:\n- kind: KubeLink\n  apiVersion: kubelink.mandelsoft.org/v1alpha1\n  metadata: {name: inlist}',
    '---',
    'a: [unclosed',
  ].join('\n');
  const parsed = parseLinkManifests(text, 'f.yaml');
  assert.deepEqual(parsed.resources.map((r) => r.metadata.name), ['good']);
  const problems = parsed.problems.map(({ document, name, field, reason }) => ({ document, name, field, reason }));
  assert.deepEqual(problems.slice(0, 6), [
    { document: '1', name: 'noaddress', field: 'spec.clusterAddress', reason: 'is missing' },
    { document: '2', name: 'oldapi', field: 'apiVersion', reason: 'is "kubelink.mandelsoft.org/v1beta9", expected kubelink.mandelsoft.org/v1alpha1' },
    { document: '3', name: 'cm', field: 'kind', reason: 'is "ConfigMap", expected KubeLink or List' },
    { document: '4', name: undefined, field: 'metadata.name', reason: 'is missing' },
    { document: '5', name: 'numeric', field: 'spec.endpoint', reason: 'must be a string, is 42' },
    { document: '6.items[0]', name: 'inlist', field: 'spec', reason: 'is missing or not a mapping' },
  ]);
  assert.equal(problems[6]!.document, '7');
  assert.match(problems[6]!.reason, /^YAML does not parse/);
  assert.ok(parsed.problems.every((p) => p.file === 'f.yaml'));
});

interface Harness {
  dir: string;
  source: FileLinkSource;
  logs: Array<Record<string, unknown>>;
  /** The set delivered last. */
  delivered(): KubeLinkResource[];
  /** Waits until a delivered set satisfies `check`; returns it. */
  until(check: (names: string[], resources: KubeLinkResource[]) => boolean): Promise<KubeLinkResource[]>;
  deliveries: number;
  /** Waits until a log line satisfies `check`. */
  untilLog(check: (line: Record<string, unknown>) => boolean): Promise<void>;
  close(): Promise<void>;
}

async function harness(files: Record<string, string>, options: Partial<FileLinkSourceOptions> = {}, sub?: string): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kllinks-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  const source = new FileLinkSource({ path: sub ? path.join(dir, sub) : dir, logger, rescanIntervalMs: 200, debounceMs: 20, ...options });
  let latest: KubeLinkResource[] | undefined;
  let waiter: (() => void) | undefined;
  const h: Harness = {
    dir,
    source,
    logs,
    deliveries: 0,
    delivered: () => latest ?? [],
    async until(check) {
      const deadline = Date.now() + WAIT_LIMIT_MS;
      for (;;) {
        if (latest && check(latest.map((r) => r.metadata.name).sort(), latest)) return latest;
        if (Date.now() > deadline) assert.fail(`no matching link set; last: ${JSON.stringify(latest?.map((r) => r.metadata.name))}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 250);
        });
      }
    },
    async untilLog(check) {
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while (!h.logs.some(check)) {
        if (Date.now() > deadline) assert.fail('no matching log line');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close() {
      await source.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await source.start((resources) => {
    latest = resources;
    h.deliveries++;
    waiter?.();
  });
  return h;
}

test('a directory source delivers the initial set, then additions, changes and deletions seen by fs.watch', async () => {
  // rescan period of an hour: only fs.watch can see the changes
  const h = await harness({ 'a.yaml': manifest('a'), 'notes.txt': 'ignored', 'b.yml': manifest('b', '100.64.32.0/20') }, { rescanIntervalMs: 3_600_000 });
  try {
    await h.until((names) => names.join() === 'a,b');
    await writeFile(path.join(h.dir, 'c.yaml'), manifest('c', '100.64.48.0/20'));
    await h.until((names) => names.join() === 'a,b,c');
    await writeFile(path.join(h.dir, 'a.yaml'), manifest('a', '100.64.64.0/20'));
    await h.until((_n, rs) => rs.find((r) => r.metadata.name === 'a')?.spec.cidr === '100.64.64.0/20');
    await unlink(path.join(h.dir, 'b.yml'));
    await h.until((names) => names.join() === 'a,c');
  } finally {
    await h.close();
  }
});

test('an invalid manifest is logged once with its details and skipped while the others keep working', async () => {
  // rescan period of an hour: fs.watch sees the new files, the test runs the rescans itself
  const h = await harness({ 'a.yaml': manifest('a') }, { rescanIntervalMs: 3_600_000 });
  try {
    await h.until((names) => names.join() === 'a');
    await writeFile(path.join(h.dir, 'bad.yaml'), `${manifest('bad').replace('  endpoint: broker.c2.kubelink.lab:8088\n', '')}\n---\nx: [`);
    await writeFile(path.join(h.dir, 'd.yaml'), manifest('d', '100.64.80.0/20'));
    await h.until((names) => names.join() === 'a,d');
    const deliveries = h.deliveries;
    // later rescans find the same problems: they must not be logged again
    for (let i = 0; i < 3; i++) await h.source.rescan();
    const warnings = h.logs.filter((l) => l.msg === 'skipping invalid KubeLink manifest');
    assert.deepEqual(
      warnings.map(({ file, document, name, field }) => ({ file: path.basename(String(file)), document, name, field })),
      [
        { file: 'bad.yaml', document: '0', name: 'bad', field: 'spec.endpoint' },
        { file: 'bad.yaml', document: '1', name: undefined, field: undefined },
      ],
    );
    assert.match(String(warnings[1]!.reason), /YAML does not parse/);
    assert.equal(h.deliveries, deliveries, 'an unchanged set is not delivered again');
  } finally {
    await h.close();
  }
});

test('a duplicate name in a second file is reported and the first definition wins', async () => {
  const h = await harness({ 'a.yaml': manifest('x', '100.64.16.0/20'), 'b.yaml': manifest('x', '100.64.32.0/20') });
  try {
    const set = await h.until((names) => names.join() === 'x');
    assert.equal(set[0]!.spec.cidr, '100.64.16.0/20');
    assert.ok(h.logs.some((l) => l.field === 'metadata.name' && /more than once/.test(String(l.reason))));
  } finally {
    await h.close();
  }
});

test('a single-file source sees an atomic rename replacement', async () => {
  const h = await harness({ 'links.yaml': manifest('a') }, { rescanIntervalMs: 3_600_000 }, 'links.yaml');
  try {
    await h.until((names) => names.join() === 'a');
    const tmp = path.join(h.dir, '.links.yaml.tmp');
    await writeFile(tmp, `${manifest('a')}\n---\n${manifest('b', '100.64.32.0/20')}`);
    await rename(tmp, path.join(h.dir, 'links.yaml'));
    await h.until((names) => names.join() === 'a,b');
    await writeFile(tmp, manifest('b', '100.64.32.0/20'));
    await rename(tmp, path.join(h.dir, 'links.yaml'));
    await h.until((names) => names.join() === 'b');
  } finally {
    await h.close();
  }
});

test('without fs.watch the periodic rescan still picks up changes', async () => {
  const clock = new FakeClock();
  const h = await harness({ 'a.yaml': manifest('a') }, { useFsWatch: false, clock, rescanIntervalMs: 200, debounceMs: 20 });
  try {
    await h.until((names) => names.join() === 'a');
    await writeFile(path.join(h.dir, 'b.yaml'), manifest('b', '100.64.32.0/20'));
    await clock.advance(199);
    assert.equal(h.deliveries, 1, 'nothing rescans before the period is up');
    await clock.advance(1 + 20); // the poll at 200 ms, then the debounce
    await h.until((names) => names.join() === 'a,b');
  } finally {
    await h.close();
  }
});

test('reportStatus logs a state change once, not repeatedly for the same state', async () => {
  const h = await harness({ 'a.yaml': manifest('a') });
  try {
    await h.source.reportStatus('a', { state: 'Down', message: 'connecting' });
    await h.source.reportStatus('a', { state: 'Down', message: 'connecting' });
    await h.source.reportStatus('a', { state: 'Up', gateway: '10.250.0.2' });
    await h.source.reportStatus('a', { state: 'Up', gateway: '10.250.0.2' });
    const status = h.logs.filter((l) => l.msg === 'link status');
    assert.deepEqual(status.map((l) => [l.level, l.link, l.state]), [['warn', 'a', 'Down'], ['info', 'a', 'Up']]);
  } finally {
    await h.close();
  }
});

test('start fails with the path named when it does not exist', async () => {
  const source = new FileLinkSource({ path: '/nonexistent/kubelink-links' });
  await assert.rejects(source.start(() => {}), /--links \/nonexistent\/kubelink-links: cannot be read/);
});

test('parseLinkManifests passes a written status through (the router reads status.gateway from files) and drops unknown status values', () => {
  const text = [
    'apiVersion: kubelink.mandelsoft.org/v1alpha1',
    'kind: KubeLink',
    'metadata: {name: b}',
    'spec: {cidr: 100.64.16.0/20, clusterAddress: 192.168.0.12/24, endpoint: b.example}',
    'status: {gateway: 10.250.0.2, state: Up, message: ok, extra: 1}',
    '---',
    'apiVersion: kubelink.mandelsoft.org/v1alpha1',
    'kind: KubeLink',
    'metadata: {name: c}',
    'spec: {cidr: 100.64.32.0/20, clusterAddress: 192.168.0.13/24, endpoint: c.example}',
    'status: {state: Sideways}',
  ].join('\n');
  const parsed = parseLinkManifests(text, 'f.yaml');
  assert.deepEqual(parsed.resources.map((r) => r.status), [{ gateway: '10.250.0.2', state: 'Up', message: 'ok' }, {}]);
});

/** Each alias expands nine times: 9^5 nodes from a few lines (yaml refuses it when converting). */
const ALIAS_BOMB = [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
].join('\n');

test('a file that cannot be read (a YAML alias bomb) is a problem of that file only: the other links are delivered', async () => {
  const h = await harness({ 'a.yaml': ALIAS_BOMB, 'k2.yaml': manifest('k2') });
  try {
    await h.until((names) => names.join() === 'k2');
    await h.untilLog((l) => l.msg === 'skipping invalid KubeLink manifest' && /Excessive alias count/.test(String(l.reason)));
    // and one arriving next to a working link does not take it away
    await writeFile(path.join(h.dir, 'b.yaml'), ALIAS_BOMB);
    await writeFile(path.join(h.dir, 'c.yaml'), manifest('c', '100.64.48.0/20'));
    await h.until((names) => names.join() === 'c,k2');
  } finally {
    await h.close();
  }
});

const LOCAL = { linkAddress: (parseInterface('192.168.0.11/24') as { ok: true; value: { address: number; prefixLength: number } }).value, serviceCidr: undefined };

test('a new file conflicting with an established link is the one found Invalid, whatever the names', async () => {
  // A fake clock dates the links; the test runs the rescans itself (its debounce timers never fire).
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const h = await harness({ 'z-established.yaml': manifest('zz', '100.64.16.0/20') }, { clock });
  try {
    await h.until((names) => names.join() === 'zz');
    await clock.advance(60_000);
    // sorts first by file name and link name, overlaps zz's cidr
    await writeFile(path.join(h.dir, 'a-new.yaml'), manifest('aa', '100.64.16.0/24').replace('192.168.0.12/24', '192.168.0.13/24').replace('broker.c2', 'broker.c3'));
    await h.source.rescan();
    const set = await h.until((names) => names.join() === 'aa,zz');
    const verdicts = validateLinks(set, LOCAL);
    const byName = new Map(verdicts.map((v) => [v.ok ? v.link.name : v.name, v]));
    assert.equal(byName.get('zz')!.ok, true, 'the established link stays valid');
    const aa = byName.get('aa')!;
    assert.ok(!aa.ok && /overlaps cidr 100.64.16.0\/20 of link "zz"/.test(aa.reason), JSON.stringify(aa));
  } finally {
    await h.close();
  }
});

test('a new file redefining an established link name does not take it over', async () => {
  // A fake clock dates the links; the test runs the rescans itself (its debounce timers never fire).
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const h = await harness({ 'z.yaml': manifest('x', '100.64.16.0/20') }, { clock });
  try {
    await h.until((names) => names.join() === 'x');
    await clock.advance(60_000);
    await writeFile(path.join(h.dir, 'a.yaml'), manifest('x', '100.64.32.0/20'));
    await h.source.rescan();
    await h.untilLog((l) => l.field === 'metadata.name' && /more than once/.test(String(l.reason)) && String(l.file).endsWith('a.yaml'));
    assert.equal(h.delivered()[0]!.spec.cidr, '100.64.16.0/20');
  } finally {
    await h.close();
  }
});

test('garbage replacing a links file keeps its last good version, logged and counted, until the file is fixed', async () => {
  const h = await harness({ 'a.yaml': manifest('a'), 'b.yaml': manifest('b', '100.64.32.0/20') });
  try {
    await h.until((names) => names.join() === 'a,b');
    await writeFile(path.join(h.dir, 'a.yaml'), '\u0000\u0001 not: [yaml');
    await h.untilLog((l) => l.msg === 'skipping invalid KubeLink manifest' && String(l.file).endsWith('a.yaml'));
    assert.deepEqual(h.delivered().map((r) => r.metadata.name), ['a', 'b'], 'link a is kept from the last good version');
    assert.ok(h.logs.some((l) => l.level === 'error' && /keeping its last good version/.test(String(l.msg)) && (l.links as string[]).join() === 'a'));
    assert.deepEqual(h.source.stats?.(), { manifestErrors: 1, staleFiles: 1 });
    // a valid document that is not a KubeLink is a problem too: still the last good version
    await writeFile(path.join(h.dir, 'a.yaml'), 'kind: ConfigMap\n');
    await h.untilLog((l) => l.field === 'kind' && String(l.file).endsWith('a.yaml'));
    assert.deepEqual(h.delivered().map((r) => r.metadata.name), ['a', 'b']);
    // fixed: the new content is taken
    await writeFile(path.join(h.dir, 'a.yaml'), manifest('a', '100.64.64.0/20'));
    await h.until((_n, rs) => rs.find((r) => r.metadata.name === 'a')?.spec.cidr === '100.64.64.0/20');
    assert.deepEqual(h.source.stats?.(), { manifestErrors: 2, staleFiles: 0 });
    assert.ok(h.logs.some((l) => l.msg === 'links file is readable again'));
    // removing the file removes its links
    await unlink(path.join(h.dir, 'a.yaml'));
    await h.until((names) => names.join() === 'b');
  } finally {
    await h.close();
  }
});
