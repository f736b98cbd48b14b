// Runs system commands (ip, iptables, iperf3, ...) without a shell, optionally inside a
// network namespace, with failures that name the command, its exit status and stderr.
// The namespace is for tests and tools that configure a namespace from outside; the broker
// itself runs inside its namespace and passes none. The lab builds on this module too.
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** A failed command: exit code and output kept for callers that branch on them or parse them (iperf3 -J). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly stdout: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

export interface CommandOptions {
  /** Written to the command's stdin (e.g. an `ip -batch -` script). */
  input?: string;
  /** A command that has not finished after this long is killed. Default 15 000 ms. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Runs `argv` (no shell); rejects with a CommandError naming the command, status and stderr. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('runCommand: empty argv'));
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ stdout, stderr });
        return;
      }
      const code = typeof err.code === 'number' ? err.code : undefined;
      const status = err.killed ? `killed by ${err.signal ?? 'timeout'}` : `exit ${code ?? err.code ?? err.signal}`;
      const why = (stderr.trim() || stdout.trim()).split('\n').join('; ');
      reject(new CommandError(`${argv.join(' ')}: ${status}${why ? `: ${why}` : ''}`, code, stdout, stderr, { cause: err }));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export interface CommandRunnerOptions {
  /** Run inside this network namespace (`ip -n NS ...`, `ip netns exec NS cmd ...`). */
  netns?: string;
  /** A command that has not finished after this long is killed. */
  timeoutMs?: number;
}

/** Builds the argv that runs `command args` in `netns` (or as is without one). */
export function commandInNetns(netns: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (netns === undefined) return [command, [...args]];
  if (command === 'ip') return ['ip', ['-n', netns, ...args]];
  return ['ip', ['netns', 'exec', netns, command, ...args]];
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  return (command, args) => {
    const [file, argv] = commandInNetns(options.netns, command, args);
    return runCommand([file, ...argv], { timeoutMs: options.timeoutMs });
  };
}
