// What the lab tool tells people while it works: one line per step, with the time since
// the command started. JSON logs of the lab and its processes go to files, never here.

export interface ProgressOptions {
  /** Where lines go. Default process.stdout. */
  write?: (text: string) => void;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

export class Progress {
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private readonly startedMs: number;

  constructor(options: ProgressOptions = {}) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
    this.now = options.now ?? Date.now;
    this.startedMs = this.now();
  }

  /** Seconds since the command started. */
  elapsedSec(): number {
    return (this.now() - this.startedMs) / 1000;
  }

  /** One step: `[  3.2s] message`. */
  step(message: string): void {
    this.write(`[${this.elapsedSec().toFixed(1).padStart(5)}s] ${message}\n`);
  }

  /** Text as it is (summaries, tables); a trailing newline is added when missing. */
  print(text = ''): void {
    this.write(text.endsWith('\n') ? text : text + '\n');
  }
}
