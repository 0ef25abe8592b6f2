/**
 * The logger every part receives from the composition root. Parsers and checks never log; servers
 * and the CLI do, through a child logger that names the component.
 */
import { pino } from 'pino';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(options: { level?: LogLevel; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? 'info';
  const dest = options.destination ?? process.stderr;
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest as never) as unknown as Logger;
}

/** A logger that drops everything: the default in tests. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that remembers what it was told, for tests that assert on what was logged. */
export interface MemoryLogger extends Logger {
  readonly entries: Array<{ level: string; msg: string | undefined; obj: object }>;
}

export function memoryLogger(): MemoryLogger {
  const entries: Array<{ level: string; msg: string | undefined; obj: object }> = [];
  const make = (bindings: Record<string, unknown>): MemoryLogger => {
    const at = (level: string) => (obj: object, msg?: string) => {
      entries.push({ level, msg, obj: { ...bindings, ...obj } });
    };
    return {
      entries,
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({});
}
