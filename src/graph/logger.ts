/** Console logging in the rcutils format: `[INFO] [1700000000.123456789] [ns.node]: message`. */
import type { Logger } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogSink = (level: LogLevel, loggerName: string, message: string) => void;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };

export function parseLogLevel(s: string | undefined): LogLevel | undefined {
  if (!s) return undefined;
  const l = s.toLowerCase().replace('warning', 'warn');
  if (l in ORDER) return l as LogLevel;
  return undefined;
}

export const consoleSink: LogSink = (level, name, message) => {
  const t = (performance.timeOrigin + performance.now()) / 1e3;
  process.stderr.write(`[${level.toUpperCase()}] [${t.toFixed(9)}] [${name}]: ${message}\n`);
};

export function makeLogger(name: string, sink: LogSink, minLevel: LogLevel = 'info'): Logger {
  const min = ORDER[minLevel];
  const at = (level: LogLevel) => (message: string) => {
    if (ORDER[level] >= min) sink(level, name, message);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

/** Logger name of a node: namespace parts and node name joined by '.' (as rcl does). */
export function loggerNameFor(fqn: string): string {
  return fqn.replace(/^\//, '').replaceAll('/', '.');
}
