// Copies the newest entry of bench/RESULTS.md into README.md's "Latest benchmark results"
// block (between <!-- BEGIN latest results --> and <!-- END latest results -->), so the
// README shows measured numbers, not hand-copied ones:
//
//   node dist/bench/readme-results.js [--results bench/RESULTS.md] [--readme README.md]

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from '../loadtest/lab/repo-root.js';

const BEGIN = '<!-- BEGIN latest results -->';
const END = '<!-- END latest results -->';

/** The last `## Tunnel benchmark` section of RESULTS.md (up to the next `## ` heading), its heading one level lower. */
export function latestEntry(results: string): string {
  const starts = [...results.matchAll(/^## Tunnel benchmark.*$/gm)].map((m) => m.index!);
  if (starts.length === 0) throw new Error('RESULTS.md has no "## Tunnel benchmark" entry');
  const start = starts[starts.length - 1]!;
  const next = results.slice(start + 1).search(/^## /m);
  const entry = results.slice(start, next < 0 ? undefined : start + 1 + next).trim();
  return entry.replace(/^## /, '### ');
}

/** README text with the block between the markers replaced by `entry`. */
export function withLatestResults(readme: string, entry: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README has no ${BEGIN} ... ${END} block`);
  return `${readme.slice(0, start + BEGIN.length)}\n${entry}\n${readme.slice(end)}`;
}

function main(): void {
  const root = repoRoot();
  const { values } = parseArgs({
    options: { results: { type: 'string', default: path.join(root, 'bench', 'RESULTS.md') }, readme: { type: 'string', default: path.join(root, 'README.md') } },
  });
  const entry = latestEntry(readFileSync(values.results!, 'utf8'));
  writeFileSync(values.readme!, withLatestResults(readFileSync(values.readme!, 'utf8'), entry));
  process.stdout.write(`readme-results: ${values.readme} now shows: ${entry.split('\n')[0]}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
