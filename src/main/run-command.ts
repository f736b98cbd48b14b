// Runs system commands (ip, iptables) without a shell, optionally inside a network
// namespace. The namespace is for tests and tools that configure a namespace from outside;
// the broker itself runs inside its namespace and passes none.
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** A failed command: exit code and stderr kept for callers that branch on them. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export interface CommandRunnerOptions {
  /** Run inside this network namespace (`ip -n NS ...`, `ip netns exec NS cmd ...`). */
  netns?: string;
  /** A command that has not finished after this long is killed. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Builds the argv that runs `command args` in `netns` (or as is without one). */
export function commandInNetns(netns: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (netns === undefined) return [command, [...args]];
  if (command === 'ip') return ['ip', ['-n', netns, ...args]];
  return ['ip', ['netns', 'exec', netns, command, ...args]];
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return (command, args) => {
    const [file, argv] = commandInNetns(options.netns, command, args);
    return new Promise((resolve, reject) => {
      execFile(file, argv, { timeout, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr });
          return;
        }
        const code = typeof err.code === 'number' ? err.code : undefined;
        const why = stderr.trim().split('\n').join('; ') || err.message;
        reject(new CommandError(`${[file, ...argv].join(' ')}: exit ${code ?? err.code ?? err.signal}: ${why}`, code, stderr, { cause: err }));
      });
    });
  };
}
