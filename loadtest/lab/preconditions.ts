// What the lab needs from the machine, checked up front so a missing piece is reported by
// name instead of as a failed `ip` command halfway through building namespaces.

import { stat } from 'node:fs/promises';
import { runCommand } from './command.js';

/** Tools the lab itself runs. OpenVPN is checked by the OpenVPN path when it is used. */
const REQUIRED_TOOLS: ReadonlyArray<{ argv: string[]; package: string }> = [
  { argv: ['iptables-restore', '--version'], package: 'iptables' },
  { argv: ['iperf3', '--version'], package: 'iperf3' },
  { argv: ['sysctl', '--version'], package: 'procps' },
  { argv: ['ss', '--version'], package: 'iproute2' },
];

/** Returns one human-readable line per missing prerequisite; empty when all is there. */
export async function findMissingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) missing.push(`root privileges (running as uid ${uid ?? 'unknown'}; network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)`);
  try {
    const tun = await stat('/dev/net/tun');
    if (!tun.isCharacterDevice()) missing.push('/dev/net/tun (exists but is not a character device)');
  } catch {
    missing.push('/dev/net/tun (create it with: mkdir -p /dev/net && mknod /dev/net/tun c 10 200)');
  }
  try {
    await runCommand(['ip', 'netns', 'list']);
  } catch (error) {
    missing.push(`a working \`ip netns\` (iproute2): ${(error as Error).message}`);
  }
  for (const tool of REQUIRED_TOOLS) {
    try {
      await runCommand(tool.argv);
    } catch {
      missing.push(`${tool.argv[0]} (Debian package ${tool.package})`);
    }
  }
  return missing;
}

/** Throws an Error naming everything that is missing. */
export async function assertPrerequisites(): Promise<void> {
  const missing = await findMissingPrerequisites();
  if (missing.length > 0) throw new Error(`kubelink lab cannot run; missing: ${missing.join('; ')}`);
}
