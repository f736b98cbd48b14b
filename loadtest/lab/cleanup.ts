// Removing a lab from ANY state: a clean run, a half-built lab, or the leftovers of a
// process that was killed. Everything is found again from the outside (`ip netns list`,
// /etc/netns, the state dir's records), never from a live Lab object.

import { readdir, rm } from 'node:fs/promises';
import type { Logger } from '../../src/shared/log.js';
import { runCommand } from './command.js';
import { terminateProcesses } from './lab-process.js';
import { NETNS_ETC_DIR } from './network-builder.js';
import { listLabPrefixes, readLabRecord, readProcessRecords, removeStateDir } from './state-dir.js';
import { namespaceBelongsTo, validatePrefix } from './topology.js';

/** Names from `ip netns list` (lines look like `name (id: 3)` or just `name`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await runCommand(['ip', 'netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

/** Pids of every process whose network namespace is `ns`. */
async function pidsInNamespace(ns: string): Promise<number[]> {
  try {
    const { stdout } = await runCommand(['ip', 'netns', 'pids', ns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function etcNetnsDirsOf(prefix: string): Promise<string[]> {
  try {
    return (await readdir(NETNS_ETC_DIR)).filter((name) => namespaceBelongsTo(prefix, name));
  } catch {
    return [];
  }
}

/**
 * Removes every trace of the lab with `prefix`: its processes (recorded pids and anything
 * still running in its namespaces), its namespaces (and with them every device, route and
 * iptables rule in them), /etc/netns/<ns> directories, its work directory when the lab
 * created it, and its state directory. Safe to call repeatedly and on a lab that never existed.
 */
export async function destroyLabByPrefix(prefix: string, log: Logger, options: { keepWorkDir?: boolean } = {}): Promise<void> {
  validatePrefix(prefix);
  const record = await readLabRecord(prefix);
  const existing = (await listNamespaces()).filter((ns) => namespaceBelongsTo(prefix, ns));
  log.info('lab: removing processes and namespaces', { prefix, namespaces: existing.length });

  const recorded = await readProcessRecords(prefix);
  const inNamespaces = (await Promise.all(existing.map(pidsInNamespace))).flat();
  const targets = [...recorded, ...inNamespaces.filter((pid) => !recorded.some((r) => r.pid === pid)).map((pid) => ({ pid }))];
  if (targets.length > 0) {
    log.debug('lab: stopping processes', { prefix, pids: targets.map((t) => t.pid) });
    await terminateProcesses(targets);
  }

  for (const ns of existing) {
    log.debug('lab: delete namespace', { ns });
    await runCommand(['ip', 'netns', 'del', ns]).catch((error: unknown) => log.warn('lab: cannot delete namespace', { ns, error }));
  }
  for (const name of await etcNetnsDirsOf(prefix)) {
    log.debug('lab: remove /etc/netns dir', { name });
    await rm(`${NETNS_ETC_DIR}/${name}`, { recursive: true, force: true });
  }
  // /etc/netns itself stays: another lab may be creating its entries right now.
  if (record?.ownsWorkDir && !options.keepWorkDir) {
    log.debug('lab: remove work dir', { workDir: record.workDir });
    await rm(record.workDir, { recursive: true, force: true });
  }
  await removeStateDir(prefix);
}

/** Destroys every lab that has a state directory (labs made by other tools are left alone). */
export async function destroyAllLabs(log: Logger): Promise<string[]> {
  const prefixes = (await listLabPrefixes()).filter((name) => {
    try {
      validatePrefix(name);
      return true;
    } catch {
      return false;
    }
  });
  for (const prefix of prefixes) await destroyLabByPrefix(prefix, log);
  return prefixes;
}
