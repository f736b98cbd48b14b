// The lab tool's record of a lab it built, next to the lab's own record in the state dir
// (/run/kubelink-lab/<prefix>/session.json), so `status`, `loadtest --lab` and `down` work
// from another process than the `up` that built it.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listLabPrefixes, stateDirOf } from '../lab/state-dir.js';

export interface LabSession {
  prefix: string;
  clusters: number;
  /** --workers of the brokers. */
  workers: number;
  workDir: string;
  /** The tool command that built it: up, demo, loadtest, profile. */
  command: string;
  createdAt: string;
  /** True once every KubeLink was Up and every pair of clusters exchanged HTTP. */
  ready: boolean;
}

/** Default prefix of `up`, `status` and `down`, so the everyday commands need none. */
export const DEFAULT_LAB_PREFIX = 'kllab';

function sessionFile(prefix: string): string {
  return path.join(stateDirOf(prefix), 'session.json');
}

export async function writeSession(session: LabSession): Promise<void> {
  await writeFile(sessionFile(session.prefix), JSON.stringify(session, null, 2) + '\n');
}

export async function readSession(prefix: string): Promise<LabSession | undefined> {
  try {
    return JSON.parse(await readFile(sessionFile(prefix), 'utf8')) as LabSession;
  } catch {
    return undefined;
  }
}

/** Sessions of every lab the tool built that still has a state dir. */
export async function listSessions(): Promise<LabSession[]> {
  const sessions = await Promise.all((await listLabPrefixes()).map(readSession));
  return sessions.filter((s): s is LabSession => s !== undefined);
}
