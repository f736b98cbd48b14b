// Running external commands (ip, iptables, sysctl, iperf3...) for the lab, on the host or
// inside a network namespace, with failures that say which command failed and why.

import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Written to the command's stdin (e.g. an `ip -batch -` or `iptables-restore` script). */
  input?: string;
  /** Kills the command after this long. Default 30 000 ms. */
  timeoutMs?: number;
}

/** A command that failed; keeps its output for callers that parse it anyway (iperf3 -J). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Runs `argv` on the host; rejects with the argv, exit status and stderr in the message. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('runCommand: empty argv'));
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const status = error.killed ? `killed by ${error.signal ?? 'timeout'}` : `exit ${String(error.code)}`;
          const detail = stderr.trim() || stdout.trim();
          reject(new CommandError(`command failed (${status}): ${argv.join(' ')}${detail ? `: ${detail}` : ''}`, stdout, stderr, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
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
