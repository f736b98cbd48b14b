import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latestEntry, withLatestResults } from '../../bench/readme-results.js';

const RESULTS = `# Benchmark results

intro

## Tunnel benchmark, 2026-01-01 10:00 UTC

| path | streams |
| raw | 1 |

## Tunnel benchmark, 2026-01-02 11:00 UTC

| path | streams |
| kubelink-w2 | 4 |
`;

test('the newest RESULTS.md entry replaces the README block, one heading level lower', () => {
  const entry = latestEntry(RESULTS);
  assert.equal(entry, '### Tunnel benchmark, 2026-01-02 11:00 UTC\n\n| path | streams |\n| kubelink-w2 | 4 |');
  const readme = 'a\n<!-- BEGIN latest results -->\nold\n<!-- END latest results -->\nb\n';
  assert.equal(withLatestResults(readme, entry), `a\n<!-- BEGIN latest results -->\n${entry}\n<!-- END latest results -->\nb\n`);
  assert.throws(() => latestEntry('# nothing'), /no "## Tunnel benchmark" entry/);
  assert.equal(latestEntry(`${RESULTS}\n## Targets\n\nnot a run\n`), entry, 'a later section of another kind is not part of the entry');
});
