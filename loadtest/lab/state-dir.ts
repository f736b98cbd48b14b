// A lab's on-disk record under /run/kubelink-lab/<prefix>/, written BEFORE anything is
// built, so cleanup after a crash (`Lab.destroyByPrefix`) knows the namespaces, the work
// directory and every process the lab started, even if the creating process is gone.
//
//   /run/kubelink-lab/<prefix>/lab.json          LabRecord
//   /run/kubelink-lab/<prefix>/pids/<pid>.json   ProcessRecord, removed when it exits

import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const STATE_ROOT = '/run/kubelink-lab';

export interface LabRecord {
  prefix: string;
  clusters: number;
  /** Built with LabOptions.sameServiceCidr. */
  sameServiceCidr?: boolean;
  namespaces: string[];
  workDir: string;
  /** True when the lab created workDir and may delete it. */
  ownsWorkDir: boolean;
  createdAt: string;
  /** The process that created the lab. */
  ownerPid: number;
}

export interface ProcessRecord {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart. */
  startTicks: number;
  ns: string;
  argv: string[];
}

export function stateDirOf(prefix: string, root = STATE_ROOT): string {
  return path.join(root, prefix);
}

export async function writeLabRecord(record: LabRecord, root = STATE_ROOT): Promise<void> {
  const dir = stateDirOf(record.prefix, root);
  await mkdir(path.join(dir, 'pids'), { recursive: true });
  await writeFile(path.join(dir, 'lab.json'), JSON.stringify(record, null, 2) + '\n');
}

export async function readLabRecord(prefix: string, root = STATE_ROOT): Promise<LabRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(stateDirOf(prefix, root), 'lab.json'), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Prefixes of every lab that has a state directory. */
export async function listLabPrefixes(root = STATE_ROOT): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

export async function writeProcessRecord(prefix: string, record: ProcessRecord, root = STATE_ROOT): Promise<void> {
  await writeFile(path.join(stateDirOf(prefix, root), 'pids', `${record.pid}.json`), JSON.stringify(record) + '\n');
}

export async function removeProcessRecord(prefix: string, pid: number, root = STATE_ROOT): Promise<void> {
  await rm(path.join(stateDirOf(prefix, root), 'pids', `${pid}.json`), { force: true });
}

export async function readProcessRecords(prefix: string, root = STATE_ROOT): Promise<ProcessRecord[]> {
  const dir = path.join(stateDirOf(prefix, root), 'pids');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const records: ProcessRecord[] = [];
  for (const name of names) {
    try {
      records.push(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as ProcessRecord);
    } catch {
      // A half-written record of a process that never got going: nothing to kill.
    }
  }
  return records;
}

export async function removeStateDir(prefix: string, root = STATE_ROOT): Promise<void> {
  await rm(stateDirOf(prefix, root), { recursive: true, force: true });
}

/** Start time of `pid` in clock ticks, or undefined when no such live (non-zombie) process exists. */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}
