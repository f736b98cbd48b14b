// Commands for the lab, on the host or inside one of its network namespaces. Running a
// command is src/main/net/run-command.ts's job; this adds the lab's namespace helpers.
import { runCommand as runWithoutLabDefaults, type CommandOptions, type CommandResult } from '../../src/main/net/run-command.js';

export { CommandError, type CommandOptions, type CommandResult } from '../../src/main/net/run-command.js';

/** Lab commands (iperf3 runs, kubectl) may take longer than the controllers' 15 s default. */
const LAB_TIMEOUT_MS = 30_000;

/** Runs `argv` on the host with the lab's default timeout. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return runWithoutLabDefaults(argv, { timeoutMs: LAB_TIMEOUT_MS, ...options });
}

/** The argv that runs `argv` inside network namespace `ns` (`ip netns exec` execs it, same pid). */
export function inNamespace(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** Runs `argv` inside network namespace `ns`. */
export function runInNamespace(ns: string, argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return runCommand(inNamespace(ns, argv), options);
}

/** Runs many `ip` commands (one per line, without the leading `ip`) in one process inside `ns`. */
export async function runIpBatch(ns: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await runCommand(['ip', '-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}
