// The module boundaries hold (docs/architecture.md, "Source layout"): no import circle in
// the tree, and src/workers and src/shared import nothing from src/main. The graph is read
// from the TypeScript sources with the compiler's own pre-processor (ts.preProcessFile),
// which lists static, type-only and dynamic imports alike, so a circle through
// `import type` or `await import()` counts too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TREES = ['src', 'loadtest', 'bench', 'apiserver', 'test'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Repository-relative .ts file -> the repository .ts files it imports. */
export function importGraph(trees: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of trees.flatMap(sourceFiles)) {
    const info = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    const targets: string[] = [];
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName)).replace(/\.js$/, '.ts');
      if (existsSync(path.join(ROOT, target))) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Every elementary circle is reported once, through its strongly connected component. */
function circles(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components; a component of more than one module (or a
  // module importing itself) is a circle.
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

const graph = importGraph(TREES);

test('the import graph is read (guards the other tests against an empty graph)', () => {
  assert.ok(graph.size > 100, `only ${graph.size} modules found under ${ROOT}`);
  assert.ok(graph.get('src/main/cli.ts')!.includes('src/main/flags.ts'));
});

test('no import circle in src, loadtest, bench, apiserver or test', () => {
  assert.deepEqual(circles(graph), []);
});

test('src/workers and src/shared import nothing from src/main', () => {
  const leaks: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith('src/workers/') && !file.startsWith('src/shared/')) continue;
    for (const t of targets) if (t.startsWith('src/main/')) leaks.push(`${file} -> ${t}`);
  }
  assert.deepEqual(leaks, []);
});

test('the circle finder finds a circle (so the test above can fail)', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(circles(g), [['a', 'b', 'c']]);
});
