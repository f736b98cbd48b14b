// Long-running processes inside lab namespaces (echo server, iperf3 -s, brokers, OpenVPN):
// output to a log file, pid recorded in the lab's state dir so cleanup after a crash finds
// them, and a handle to stop them.

import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { inNamespace } from './command.js';
import { processStartTicks, removeProcessRecord, writeProcessRecord } from './state-dir.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LabProcess {
  readonly pid: number;
  readonly ns: string;
  readonly argv: readonly string[];
  readonly logFile: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** True until the process exits. */
  running(): boolean;
  /** Sends `signal` (default SIGTERM) if the process still runs. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000); resolves with the exit. */
  stop(graceMs?: number): Promise<ProcessExit>;
}

export interface SpawnInNamespaceOptions {
  prefix: string;
  ns: string;
  argv: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Own process group, and this process may exit while the child runs: for labs that
   * outlive the command that built them (`kubelink-lab up`). A terminal's Ctrl-C then
   * reaches only the foreground command, never the lab's processes. Default false.
   */
  detached?: boolean;
  /** Called once when the process exits (after its pid record is removed). */
  onExit?: (exit: ProcessExit) => void;
}

const DEFAULT_STOP_GRACE_MS = 3000;
/** Lines of a dead process's log quoted in the error: the lab's work dir is gone after cleanup. */
const QUOTED_LOG_LINES = 15;

/** The error for a lab process that exited while it should run, quoting the end of its log. */
export function processExitedError(p: LabProcess): Error {
  let tail: string;
  try {
    tail = readFileSync(p.logFile, 'utf8').trimEnd().split('\n').slice(-QUOTED_LOG_LINES).join('\n');
  } catch (err) {
    tail = `(log unreadable: ${(err as Error).message})`;
  }
  return new Error(`${p.argv.slice(1, 3).join(' ')} in ${p.ns} exited, see ${p.logFile}; its last lines:\n${tail}`);
}

/** Starts `argv` in `ns` and records its pid; resolves once the record is written. */
export async function spawnInNamespace(options: SpawnInNamespaceOptions): Promise<LabProcess> {
  const fd = openSync(options.logFile, 'a');
  const argv = inNamespace(options.ns, options.argv);
  let child;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], env: options.env ?? process.env, detached: options.detached ?? false });
  } finally {
    closeSync(fd);
  }
  if (options.detached) child.unref();
  const pid = child.pid;
  let alive = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      const exit = { code, signal };
      if (pid !== undefined) {
        void removeProcessRecord(options.prefix, pid).finally(() => {
          options.onExit?.(exit);
          resolve(exit);
        });
      } else {
        options.onExit?.(exit);
        resolve(exit);
      }
    });
  });
  if (pid === undefined) {
    const spawnError = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${options.argv.join(' ')} in ${options.ns}`, { cause: spawnError });
  }
  child.on('error', () => {});
  // `ip netns exec` execs the command in place, so this pid is the command's pid.
  await writeProcessRecord(options.prefix, {
    pid,
    startTicks: processStartTicks(pid) ?? 0,
    ns: options.ns,
    argv: [...options.argv],
  });
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): void => {
    if (alive) child.kill(signal);
  };
  return {
    pid,
    ns: options.ns,
    argv: options.argv,
    logFile: options.logFile,
    exited,
    running: () => alive,
    kill,
    async stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      kill('SIGTERM');
      const exit = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
      if (exit) return exit;
      kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * Terminates processes that are not (or no longer) our children, e.g. after a crash:
 * SIGTERM, wait up to `graceMs`, then SIGKILL. Only pids whose start time still matches
 * are signalled, so a pid reused by an unrelated process is left alone.
 */
export async function terminateProcesses(targets: ReadonlyArray<{ pid: number; startTicks?: number }>, graceMs = 2000): Promise<void> {
  const matches = (t: { pid: number; startTicks?: number }): boolean => {
    const ticks = processStartTicks(t.pid);
    return ticks !== undefined && (t.startTicks === undefined || t.startTicks === 0 || t.startTicks === ticks);
  };
  const live = targets.filter(matches);
  const signal = (sig: NodeJS.Signals): void => {
    for (const t of live) {
      try {
        if (matches(t)) process.kill(t.pid, sig);
      } catch {
        // Already gone.
      }
    }
  };
  signal('SIGTERM');
  const pollMs = 50;
  for (let waited = 0; waited < graceMs && live.some(matches); waited += pollMs) await sleep(pollMs);
  signal('SIGKILL');
  for (let waited = 0; waited < 5000 && live.some(matches); waited += pollMs) await sleep(pollMs);
}
