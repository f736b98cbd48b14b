// The README documents the CLI: its flag reference must be exactly what `kubelink --help`
// prints, and it must start with the two commands (demo, tests). Run this test with
// UPDATE_README=1 to rewrite the reference block from helpText() after changing a flag.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flagNames, helpText } from '../../src/main/flags.js';
import { STATUS_HELP } from '../../src/main/status/status-options.js';
import { repoRoot } from '../../loadtest/lab/repo-root.js';

const README = path.join(repoRoot(), 'README.md');
const BEGIN = '<!-- BEGIN kubelink --help -->';
const END = '<!-- END kubelink --help -->';
const STATUS_BEGIN = '<!-- BEGIN kubelink status --help -->';
const STATUS_END = '<!-- END kubelink status --help -->';

function helpBlock(help = helpText()): string {
  return ['```text', help.trimEnd(), '```'].join('\n');
}

/** The README's text between two markers (without them), and where it sits. */
function referenceBlock(text: string, beginMarker = BEGIN, endMarker = END): { block: string; start: number; end: number } {
  const start = text.indexOf(beginMarker);
  const end = text.indexOf(endMarker);
  assert.ok(start >= 0 && end > start, `README.md must contain ${beginMarker} ... ${endMarker}`);
  return { block: text.slice(start + beginMarker.length, end).trim(), start: start + beginMarker.length, end };
}

test('the README\'s CLI reference is exactly what kubelink --help prints', () => {
  let text = readFileSync(README, 'utf8');
  if (process.env.UPDATE_README === '1') {
    const { start, end } = referenceBlock(text);
    text = `${text.slice(0, start)}\n${helpBlock()}\n${text.slice(end)}`;
    writeFileSync(README, text);
  }
  const { block } = referenceBlock(text);
  assert.equal(block, helpBlock(), 'README.md\'s flag reference differs from --help; rerun this test with UPDATE_README=1 to regenerate it');
  for (const name of flagNames()) assert.ok(block.includes(`--${name}`), `--${name} is documented`);
});

test('the README\'s `kubelink status` reference is exactly what kubelink status --help prints', () => {
  let text = readFileSync(README, 'utf8');
  if (process.env.UPDATE_README === '1') {
    const { start, end } = referenceBlock(text, STATUS_BEGIN, STATUS_END);
    text = `${text.slice(0, start)}\n${helpBlock(STATUS_HELP)}\n${text.slice(end)}`;
    writeFileSync(README, text);
  }
  const { block } = referenceBlock(text, STATUS_BEGIN, STATUS_END);
  assert.equal(block, helpBlock(STATUS_HELP), 'README.md\'s kubelink status reference differs from its --help; rerun this test with UPDATE_README=1');
  for (const flag of ['--kubeconfig', '--watch', '--output', '--help']) assert.ok(block.includes(flag), `${flag} is documented`);
});

test('the README starts with exactly two commands: the demo and the tests, both present in the repository', () => {
  const text = readFileSync(README, 'utf8');
  const first = /^```sh\n([^\n]*)\n([^\n]*)\n```\n/.exec(text);
  assert.ok(first, 'README.md must open with a sh block of two lines');
  assert.match(first[1]!, /^bash demo\.sh\s+#/);
  assert.match(first[2]!, /^bash test\/run\.sh\s+#/);
  assert.ok(existsSync(path.join(repoRoot(), 'demo.sh')));
  assert.ok(existsSync(path.join(repoRoot(), 'test', 'run.sh')));
});
