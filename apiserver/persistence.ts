// --data-file: the store's snapshot as JSON, rewritten after every change (write to a
// temporary file, then rename, so a crash never leaves half a file) and loaded at
// start, so a restarted server continues with the same objects and resourceVersions.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoreSnapshot } from './object-store.js';

export function loadSnapshot(path: string): StoreSnapshot | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read data file ${path}`, { cause: err });
  }
  let parsed: StoreSnapshot;
  try {
    parsed = JSON.parse(text) as StoreSnapshot;
  } catch (err) {
    throw new Error(`data file ${path} is not JSON`, { cause: err });
  }
  if (parsed.format !== 'kubelink-test-apiserver/v1' || !Number.isInteger(parsed.resourceVersion)) {
    throw new Error(`data file ${path} is not a kubelink test API server snapshot`);
  }
  return parsed;
}

export function saveSnapshot(path: string, snapshot: StoreSnapshot): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(snapshot));
  renameSync(temporary, path);
}
