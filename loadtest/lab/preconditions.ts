// What the lab needs from the machine, checked up front so a missing piece is reported by
// name instead of as a failed `ip` command halfway through building namespaces.

import { stat } from 'node:fs/promises';
import { runCommand } from './command.js';

/** A program the lab runs, how to ask it for its version, and the Debian package that has it. */
export interface RequiredTool {
  argv: string[];
  package: string;
}

/** Tools the lab itself runs. OpenVPN is checked by the OpenVPN path when it is used. */
const REQUIRED_TOOLS: readonly RequiredTool[] = [
  { argv: ['iptables-restore', '--version'], package: 'iptables' },
  { argv: ['iperf3', '--version'], package: 'iperf3' },
  { argv: ['sysctl', '--version'], package: 'procps' },
  { argv: ['ss', '--version'], package: 'iproute2' },
];

/** The lab with API servers also runs the real kubectl. */
export const KUBECTL_TOOL: RequiredTool = { argv: ['kubectl', 'version', '--client'], package: 'kubernetes-client' };

/** What the checks look at; injectable so tests can play a machine that lacks something. */
export interface PrerequisiteProbe {
  /** Effective uid. Default process.getuid(). */
  uid?: number;
  /** Default /dev/net/tun. */
  tunDevice?: string;
  /** Tools needed beyond the lab's own (e.g. KUBECTL_TOOL). */
  extraTools?: readonly RequiredTool[];
  /** Files that must exist, with what to do when one is missing (e.g. the native addon). */
  files?: ReadonlyArray<{ path: string; hint: string }>;
}

/** Returns one human-readable line per missing prerequisite; empty when all is there. */
export async function findMissingPrerequisites(probe: PrerequisiteProbe = {}): Promise<string[]> {
  const missing: string[] = [];
  const uid = probe.uid ?? process.getuid?.();
  const tunDevice = probe.tunDevice ?? '/dev/net/tun';
  if (uid !== 0) missing.push(`root privileges (running as uid ${uid ?? 'unknown'}; network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)`);
  try {
    const tun = await stat(tunDevice);
    if (!tun.isCharacterDevice()) missing.push(`${tunDevice} (exists but is not a character device)`);
  } catch {
    missing.push(`${tunDevice} (the TUN device; create it with: mkdir -p /dev/net && mknod /dev/net/tun c 10 200)`);
  }
  try {
    await runCommand(['ip', 'netns', 'list']);
  } catch (error) {
    missing.push(`a working \`ip netns\` (iproute2): ${(error as Error).message}`);
  }
  for (const file of probe.files ?? []) {
    try {
      await stat(file.path);
    } catch {
      missing.push(`${file.path} (${file.hint})`);
    }
  }
  for (const tool of [...REQUIRED_TOOLS, ...(probe.extraTools ?? [])]) {
    try {
      await runCommand(tool.argv);
    } catch {
      missing.push(`${tool.argv[0]} (Debian package ${tool.package})`);
    }
  }
  return missing;
}

/** Throws an Error naming everything that is missing. */
export async function assertPrerequisites(probe: PrerequisiteProbe = {}): Promise<void> {
  const missing = await findMissingPrerequisites(probe);
  if (missing.length > 0) throw new Error(`kubelink lab cannot run; missing: ${missing.join('; ')}`);
}
