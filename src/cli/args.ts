/** Parsing of command-line values, shared by every `gmps` verb. */
import { CliError } from './errors.js';

/** A finite number (an empty string is not 0), optionally also passing `check`; otherwise a CliError naming the option. */
export function parseNumber(name: string, value: string, check: (n: number) => boolean = Number.isFinite, what = 'a number'): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new CliError(`${name} must be ${what}, got '${value}'`);
  return n;
}
