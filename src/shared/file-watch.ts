// Watching files that other programs replace: the links file or directory (--links) and
// the certificate files (--certfile/--keyfile/--cacertfile).
//
// fs.watch on the directories holding them (a directory watch sees the atomic rename used
// by rotation tools and the `..data` symlink swap kubelet uses for ConfigMap and Secret
// volumes, which a watch on the file itself would lose), plus a periodic poll as the
// fallback, because fs.watch misses events on some file systems. Both only trigger a
// debounced check (writers update files in several steps); checks never overlap and a
// change during a check causes exactly one more (CoalescedTask). A watch that fails is
// dropped and set up again after the next check, so the poll covers the gap.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { createCoalescedTask, type CoalescedTask } from './coalesced-task.js';
import type { Logger } from './log.js';

export interface WatchedDirectory {
  dir: string;
  /** Only events naming this entry count (a single watched file); undefined: any entry. */
  name?: string;
}

export interface FileWatchOptions {
  /** Reads the watched state from scratch. Called at start, after changes and when a poll finds one. */
  check: () => Promise<void>;
  /** The directories to watch; asked again whenever the watch is set up (after a failure). */
  directories: () => Promise<WatchedDirectory[]>;
  /** Cheap test at each poll (e.g. stat fingerprints); a poll without it always checks. */
  changed?: () => Promise<boolean>;
  pollIntervalMs: number;
  debounceMs: number;
  /** false leaves only the periodic poll (tests, file systems without inotify). */
  useFsWatch: boolean;
  log: Logger;
  clock?: Clock;
}

export class FileWatch {
  private readonly clock: Clock;
  private readonly task: CoalescedTask;
  private watchers: FSWatcher[] = [];
  private watching = false;
  private pollTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: FileWatchOptions) {
    this.clock = options.clock ?? systemClock;
    this.task = createCoalescedTask(
      async () => {
        await options.check();
        await this.ensureWatching();
      },
      options.debounceMs,
      (err) => options.log.error('checking watched files failed', { error: err }),
      this.clock,
    );
  }

  /** Checks once (resolves when done), then watches and polls. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.task.run();
    this.pollTimer = this.clock.setInterval(() => void this.poll(), this.options.pollIntervalMs);
  }

  /** Checks now (or once more after a check in progress); resolves when the state is read. */
  checkNow(): Promise<void> {
    return this.task.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.closeWatchers();
    await this.task.stop();
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    if (!this.options.changed || (await this.options.changed())) this.task.trigger();
  }

  private async ensureWatching(): Promise<void> {
    if (!this.options.useFsWatch || this.watching || this.stopped) return;
    let directories: WatchedDirectory[];
    try {
      directories = await this.options.directories();
    } catch {
      return; // e.g. the path is gone: the poll reports it and the next check retries
    }
    if (this.stopped || this.watching) return;
    for (const { dir, name } of directories) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (name === undefined || filename === null || filename === name) this.task.trigger();
        });
        watcher.on('error', (err) => {
          this.options.log.debug('fs.watch failed; relying on the periodic poll until it is set up again', { dir, error: err });
          this.closeWatchers();
        });
        this.watchers.push(watcher);
      } catch (err) {
        this.options.log.debug('fs.watch unavailable; relying on the periodic poll', { dir, error: err });
      }
    }
    this.watching = this.watchers.length > 0;
  }

  private closeWatchers(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watching = false;
  }
}
