// Leveled JSON-lines logger on pino: one object per line, debug/info on stdout, warn/error on
// stderr, the same fields in every run mode; child() adds bindings (request id, node, component).
import { createRequire } from 'node:module';
import tty from 'node:tty';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';
import { REDACTED, SECRET_FIELDS, SECRET_HEADERS } from './redact.js';

export type LogFields = Record<string, unknown>;
type LogMethod = (msg: string, fields?: LogFields) => void;

export interface Logger {
  level: LogLevel;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  child(bindings: LogFields): Logger;
  /** The pino logger underneath, with this logger's bindings (for the request log line). */
  readonly pino: PinoLogger;
}

/** Where lines go: tests capture them; the default is the process's stdout and stderr. */
export interface LoggerSink {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/**
 * Secrets never reach a line: headers under any `headers` object one or two levels down, and the
 * secret-bearing field names at the top level and one level down (`{ body: { password } }`).
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
  ...SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`]),
];

const options = (level: LogLevel) => ({
  level,
  base: null, // no pid/hostname: the node id binding names the process, in every mode alike
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
  redact: { paths: [...REDACT_PATHS], censor: REDACTED },
});

const requireOptional = createRequire(import.meta.url);

/**
 * Human-readable lines for a terminal: only when the descriptor is a TTY and pino-pretty (a dev
 * dependency) is installed; anything else gets the JSON lines.
 */
export function prettyStream(fd: 1 | 2, isTTY: boolean = tty.isatty(fd)): DestinationStream | null {
  if (!isTTY) return null;
  try {
    const pretty = requireOptional('pino-pretty') as (opts: Record<string, unknown>) => DestinationStream;
    return pretty({ destination: fd, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' });
  } catch {
    return null;
  }
}

function processStream(fd: 1 | 2): DestinationStream {
  return prettyStream(fd) ?? pino.destination({ dest: fd, sync: true });
}

function sinkStreams(sink: LoggerSink | undefined): [DestinationStream, DestinationStream] {
  if (!sink) return [processStream(1), processStream(2)];
  return [{ write: (line: string) => sink.stdout(line) }, { write: (line: string) => sink.stderr(line) }];
}

function wrap(root: PinoLogger, level: LogLevel, bindings: LogFields): Logger {
  const bound = Object.keys(bindings).length > 0 ? root.child(bindings) : root;
  const method =
    (name: 'debug' | 'info' | 'warn' | 'error'): LogMethod =>
    (msg, fields) => {
      if (fields === undefined) bound[name](msg);
      else bound[name](fields, msg);
    };
  return {
    level,
    pino: bound,
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    // Children start from the root with the merged bindings, so a key bound again replaces the
    // earlier value instead of appearing twice in the line.
    child: (more) => wrap(root, level, { ...bindings, ...more }),
  };
}

export function createLogger(level: LogLevel = 'info', bindings: LogFields = {}, sink?: LoggerSink): Logger {
  const [out, err] = sinkStreams(sink);
  // dedupe: each line goes to the one stream of the highest level it reaches.
  const streams = pino.multistream(
    [
      { level: 'trace', stream: out },
      { level: 'warn', stream: err },
    ],
    { dedupe: true },
  );
  return wrap(pino(options(level), streams), level, bindings);
}
