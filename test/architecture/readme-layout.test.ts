// The README's "Repository layout" names only paths that exist, and every folder of
// src/main and test is in it, so the layout section keeps matching the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The paths of the layout block: top-level entries, and indented ones under the last top-level folder. */
function layoutPaths(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Repository layout'));
  const block = section.slice(section.indexOf('```') + 4, section.indexOf('```', section.indexOf('```') + 3));
  const paths: string[] = [];
  let parent = '';
  for (const line of block.split('\n')) {
    const m = /^(\s*)(\S+)\s/.exec(line + ' ');
    if (!m || !/[/.]/.test(m[2]!)) continue; // continuation lines of a description
    const names = line.trim().split(/\s{2,}/)[0]!.split(/\s+/).filter((n) => n.endsWith('/') || n.includes('.'));
    for (const name of names) {
      if (m[1] === '') {
        paths.push(name);
        if (name.endsWith('/')) parent = name;
      } else {
        paths.push(parent + name);
      }
    }
  }
  return paths;
}

test('every path in the README layout exists', () => {
  const paths = layoutPaths();
  assert.ok(paths.includes('src/main/') && paths.includes('src/main/broker/'), JSON.stringify(paths));
  assert.deepEqual(paths.filter((p) => !existsSync(path.join(ROOT, p))), []);
});

test('every folder of src/main and test is in the README layout', () => {
  const paths = new Set(layoutPaths());
  const missing: string[] = [];
  for (const top of ['src/main/', 'test/']) {
    for (const entry of readdirSync(path.join(ROOT, top), { withFileTypes: true })) {
      if (entry.isDirectory() && !paths.has(`${top}${entry.name}/`)) missing.push(`${top}${entry.name}/`);
    }
  }
  assert.deepEqual(missing, []);
});
