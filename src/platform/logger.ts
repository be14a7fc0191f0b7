// Leveled JSON-lines logger: one object per line, debug/info on stdout, warn/error on stderr.
// Deliberately dependency-free; child() adds bindings (request id, node id, component).
import type { LogLevel } from './config.js';

export type LogFields = Record<string, unknown>;
type LogMethod = (msg: string, fields?: LogFields) => void;

export interface Logger {
  level: LogLevel;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  child(bindings: LogFields): Logger;
}

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerSink {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const processSink: LoggerSink = {
  stdout: (line) => process.stdout.write(line),
  stderr: (line) => process.stderr.write(line),
};

// Errors do not survive JSON.stringify (their fields are not enumerable).
function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    const { name, message, stack } = value;
    const code = (value as { code?: unknown }).code;
    return { name, message, ...(code !== undefined ? { code } : {}), stack };
  }
  return value;
}

function toLine(record: LogFields): string {
  try {
    return JSON.stringify(record, (_key, value: unknown) => serialize(value)) + '\n';
  } catch {
    // Circular or BigInt values: keep the message rather than lose the line.
    return JSON.stringify({ time: record.time, level: record.level, msg: record.msg, logError: 'unserializable fields' }) + '\n';
  }
}

export function createLogger(level: LogLevel = 'info', bindings: LogFields = {}, sink: LoggerSink = processSink): Logger {
  const threshold = SEVERITY[level];
  const write = (lvl: LogLevel): LogMethod => {
    if (SEVERITY[lvl] < threshold) return () => {};
    const out = SEVERITY[lvl] >= SEVERITY.warn ? sink.stderr : sink.stdout;
    return (msg, fields) => out(toLine({ time: new Date().toISOString(), level: lvl, msg, ...bindings, ...fields }));
  };
  return {
    level,
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => createLogger(level, { ...bindings, ...more }, sink),
  };
}
