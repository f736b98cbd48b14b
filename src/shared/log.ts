// Structured, leveled logging: one JSON object per line on stderr, one line per event.
// Never call this per packet; count instead and expose counters.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. { component: 'broker' }). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; injectable for tests. Default: process.stderr. */
  write?: (line: string) => void;
  /** Clock; injectable for tests. */
  now?: () => Date;
}

export function isLogLevel(value: string): value is LogLevel {
  return value in LEVEL_RANK;
}

function serializeField(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: value.message };
    const code = (value as NodeJS.ErrnoException).code;
    if (code) out.code = code;
    if (value.cause !== undefined) out.cause = serializeField(value.cause);
    return out;
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const threshold = LEVEL_RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < threshold) return;
    const record: Record<string, unknown> = { time: now().toISOString(), level, msg, ...bound };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serializeField(v);
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything: for tests and library callers that pass none. */
export const silentLogger: Logger = createLogger({ write: () => {} });
