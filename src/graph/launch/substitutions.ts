/** ROS 2 launch substitutions: `$(var x)`, `$(env X default)`, `$(find-pkg-share p)`, `$(eq a b)`, ... */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LaunchError } from '../errors.js';
import { packageRoot, ROS_PACKAGE_NAME } from '../paths.js';

export interface SubstitutionScope {
  vars: Map<string, string>;
  env: Record<string, string | undefined>;
  file: string;
  anon: Map<string, string>;
}

/** Finds an installed package's share directory; ours is the repository root (or our install). */
export function findPackageShare(pkg: string, env: Record<string, string | undefined> = process.env): string {
  if (pkg === ROS_PACKAGE_NAME) return packageRoot();
  for (const prefix of (env.AMENT_PREFIX_PATH ?? '').split(':').filter(Boolean)) {
    const share = join(prefix, 'share', pkg);
    if (existsSync(join(share, 'package.xml'))) return share;
  }
  throw new LaunchError(
    `$(find-pkg-share ${pkg}): package '${pkg}' not found` +
      (env.AMENT_PREFIX_PATH ? ' in AMENT_PREFIX_PATH' : ' (ROS 2 is not sourced; only this package, ' + ROS_PACKAGE_NAME + ', is known)'),
  );
}

export function parseBool(text: string, what: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new LaunchError(`${what}: '${text}' is not a boolean (use true/false or 1/0)`);
}

function equalValues(a: string, b: string): boolean {
  const bools = new Set(['true', 'false']);
  if (bools.has(a.toLowerCase()) && bools.has(b.toLowerCase())) return a.toLowerCase() === b.toLowerCase();
  if (a.trim() !== '' && b.trim() !== '' && !Number.isNaN(Number(a)) && !Number.isNaN(Number(b))) return Number(a) === Number(b);
  return a === b;
}

/** Splits `$( ... )` contents into words; quotes group, nested substitutions stay whole. */
function splitWords(body: string): string[] {
  const words: string[] = [];
  let cur = '';
  let depth = 0;
  let quote: string | undefined;
  let has = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
      continue;
    }
    if (depth === 0 && (c === "'" || c === '"')) {
      quote = c;
      has = true;
      continue;
    }
    if (c === '$' && body[i + 1] === '(') {
      depth++;
      cur += '$(';
      i++;
      has = true;
      continue;
    }
    if (c === ')' && depth > 0) depth--;
    if (depth === 0 && /\s/.test(c)) {
      if (has) words.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
    has = true;
  }
  if (quote) throw new LaunchError(`unterminated quote in substitution '$(${body})'`);
  if (has) words.push(cur);
  return words;
}

function evaluate(name: string, rawArgs: string[], scope: SubstitutionScope): string {
  const args = rawArgs.map((a) => substitute(a, scope));
  const need = (n: number, usage: string): void => {
    if (args.length < n) throw new LaunchError(`$(${name} ...) needs ${usage} (in ${scope.file})`);
  };
  switch (name) {
    case 'var': {
      need(1, 'a name');
      const v = scope.vars.get(args[0]!);
      if (v === undefined) {
        const known = [...scope.vars.keys()].sort();
        throw new LaunchError(
          `$(var ${args[0]}): no launch argument or let named '${args[0]}' in ${scope.file}` +
            (known.length ? ` (defined: ${known.join(', ')})` : ' (none defined yet; declare it with `- arg: {name: ...}` first)'),
        );
      }
      return v;
    }
    case 'env': {
      need(1, 'a variable name');
      const v = scope.env[args[0]!];
      if (v !== undefined) return v;
      if (args.length > 1) return args.slice(1).join(' ');
      throw new LaunchError(`$(env ${args[0]}): environment variable '${args[0]}' is not set and no default is given (${scope.file})`);
    }
    case 'optenv':
      need(1, 'a variable name');
      return scope.env[args[0]!] ?? args.slice(1).join(' ');
    case 'find-pkg-share':
      need(1, 'a package name');
      return findPackageShare(args[0]!, scope.env);
    case 'find-pkg-prefix':
      need(1, 'a package name');
      return dirname(dirname(findPackageShare(args[0]!, scope.env)));
    case 'dirname':
      return dirname(scope.file);
    case 'filename':
      return basename(scope.file);
    case 'eq':
    case 'equals':
      need(2, 'two values');
      return String(equalValues(args[0]!, args[1]!));
    case 'not':
      need(1, 'a value');
      return String(!parseBool(args[0]!, `$(not ${args[0]})`));
    case 'and':
      need(2, 'at least two values');
      return String(args.every((a) => parseBool(a, `$(and ...)`)));
    case 'or':
      need(2, 'at least two values');
      return String(args.some((a) => parseBool(a, `$(or ...)`)));
    case 'anon': {
      need(1, 'a name');
      let v = scope.anon.get(args[0]!);
      if (!v) {
        v = `${args[0]}_${randomBytes(4).toString('hex')}`;
        scope.anon.set(args[0]!, v);
      }
      return v;
    }
    default:
      throw new LaunchError(
        `unknown substitution $(${name} ...) in ${scope.file}; supported: var, env, optenv, find-pkg-share, find-pkg-prefix, dirname, filename, eq, equals, not, and, or, anon`,
      );
  }
}

/** Replaces every `$(...)` in `text` (nesting allowed). */
export function substitute(text: string, scope: SubstitutionScope): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$(', i);
    if (start < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    let depth = 1;
    let j = start + 2;
    let quote: string | undefined;
    for (; j < text.length && depth > 0; j++) {
      const c = text[j]!;
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '$' && text[j + 1] === '(') {
        depth++;
        j++;
      } else if (c === ')') depth--;
    }
    if (depth > 0) throw new LaunchError(`unclosed '$(' in '${text}' (${scope.file})`);
    const body = text.slice(start + 2, j - 1).trim();
    const words = splitWords(body);
    if (!words.length) throw new LaunchError(`empty substitution '$()' in '${text}' (${scope.file})`);
    out += evaluate(words[0]!, words.slice(1), scope);
    i = j;
  }
  return out;
}
