// What the lab tests check after a lab is removed: no namespace, /etc/netns entry,
// process, state dir or work dir of it is left. Shared by the lab and lab-tool tests.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { listNamespaces } from '../../loadtest/lab/cleanup.js';
import { stateDirOf } from '../../loadtest/lab/state-dir.js';

const execFileAsync = promisify(execFile);

/** Pids of processes whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function pidsInLabNamespaces(prefix: string): Promise<number[]> {
  const pids: number[] = [];
  for (const ns of (await listNamespaces()).filter((n) => n.startsWith(`${prefix}-`))) {
    const { stdout } = await execFileAsync('ip', ['netns', 'pids', ns]);
    pids.push(...stdout.split(/\s+/).filter(Boolean).map(Number));
  }
  return pids;
}

/** Asserts that nothing of lab `prefix` is left: namespaces, /etc/netns dirs, processes, state, work dir. */
export async function assertNothingLeft(prefix: string, formerPids: number[], workDir: string): Promise<void> {
  assert.deepEqual((await listNamespaces()).filter((ns) => ns.startsWith(`${prefix}-`)), [], 'namespaces left');
  const etcLeft = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(`${prefix}-`)) : [];
  assert.deepEqual(etcLeft, [], '/etc/netns dirs left');
  assert.deepEqual(formerPids.filter(isAlive), [], 'processes of the lab still alive');
  assert.deepEqual(processesMentioning(prefix), [], 'processes mentioning the prefix');
  assert.equal(existsSync(stateDirOf(prefix)), false, 'state dir left');
  assert.equal(existsSync(workDir), false, 'work dir left');
}

