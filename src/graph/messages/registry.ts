/**
 * ROS 2 message and service definitions by type string (`sensor_msgs/msg/Image`,
 * `std_srvs/srv/Trigger`): the Humble set from `@foxglove/rosmsg-msgs-common`, a few standard
 * services, and our own interfaces from `msg/<package>/{msg,srv}/*.{msg,srv}`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { MessageDefinition } from '@foxglove/message-definition';
import { parse } from '@foxglove/rosmsg';
import { ros2humble } from '@foxglove/rosmsg-msgs-common';
import { GraphError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { CheckerCompiler, type Checker } from './check.js';

/** std_srvs is not in msgs-common; its three services are tiny and stable. */
const STD_SRVS: Record<string, string> = {
  'std_srvs/srv/Empty': '---\n',
  'std_srvs/srv/Trigger': '---\nbool success\nstring message\n',
  'std_srvs/srv/SetBool': 'bool data\n---\nbool success\nstring message\n',
};

const TYPE_RE = /^([A-Za-z][A-Za-z0-9_]*)\/(msg|srv)\/([A-Za-z][A-Za-z0-9_]*)$/;

/** 'sensor_msgs/msg/Image' → 'sensor_msgs/Image' (the key used by rosmsg definitions). */
function defKey(pkg: string, name: string): string {
  return `${pkg}/${name}`;
}

export class MessageRegistry {
  private readonly defs = new Map<string, MessageDefinition>();
  private readonly services = new Map<string, { request: string; response: string }>();
  private readonly compiler = new CheckerCompiler((k) => this.defs.get(k));

  /** Humble definitions + std_srvs + the repository's `msg/` folder. Shared per process. */
  static default(): MessageRegistry {
    if (!defaultRegistry) {
      const r = new MessageRegistry();
      for (const [key, def] of Object.entries(ros2humble)) r.defs.set(key, { ...def, name: key });
      for (const [type, text] of Object.entries(STD_SRVS)) r.addServiceText(type, text);
      const dir = join(packageRoot(), 'msg');
      if (existsSync(dir)) r.loadInterfaceDir(dir);
      defaultRegistry = r;
    }
    return defaultRegistry;
  }

  /** Loads `<dir>/<package>/msg/*.msg` and `<dir>/<package>/srv/*.srv`. */
  loadInterfaceDir(dir: string): void {
    for (const pkg of readdirSync(dir, { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      for (const kind of ['msg', 'srv'] as const) {
        const sub = join(dir, pkg.name, kind);
        if (!existsSync(sub)) continue;
        for (const file of readdirSync(sub).filter((f) => f.endsWith(`.${kind}`)).sort()) {
          const type = `${pkg.name}/${kind}/${basename(file, `.${kind}`)}`;
          const text = readFileSync(join(sub, file), 'utf8');
          if (kind === 'msg') this.addMessageText(type, text);
          else this.addServiceText(type, text);
        }
      }
    }
  }

  addMessageText(type: string, text: string): void {
    const [pkg, kind, name] = splitType(type);
    if (kind !== 'msg') throw new GraphError(`'${type}' is not a message type (expected pkg/msg/Name)`);
    this.defs.set(defKey(pkg, name), this.parseOne(type, pkg, text));
  }

  addServiceText(type: string, text: string): void {
    const [pkg, kind, name] = splitType(type);
    if (kind !== 'srv') throw new GraphError(`'${type}' is not a service type (expected pkg/srv/Name)`);
    const parts = text.split(/^---\s*$/m);
    if (parts.length !== 2) throw new GraphError(`${type}: a .srv needs exactly one '---' line between request and response`);
    const request = defKey(pkg, `${name}_Request`);
    const response = defKey(pkg, `${name}_Response`);
    this.defs.set(request, this.parseOne(`${type} request`, pkg, parts[0]!, request));
    this.defs.set(response, this.parseOne(`${type} response`, pkg, parts[1]!, response));
    this.services.set(type, { request, response });
  }

  private parseOne(what: string, pkg: string, text: string, key?: string): MessageDefinition {
    let parsed: MessageDefinition[];
    try {
      parsed = parse(text, { ros2: true, skipTypeFixup: true });
    } catch (err) {
      throw new GraphError(`cannot parse ${what}: ${(err as Error).message}`);
    }
    const root = parsed[0] ?? { definitions: [] };
    const definitions = root.definitions.map((f) => {
      if (!f.isComplex) return f;
      const t = f.type.includes('/') ? f.type.replace('/msg/', '/') : `${pkg}/${f.type}`;
      return { ...f, type: t };
    });
    return { name: key ?? what, definitions };
  }

  hasMessage(type: string): boolean {
    const m = TYPE_RE.exec(type);
    return !!m && m[2] === 'msg' && this.defs.has(defKey(m[1]!, m[3]!));
  }

  /** Definition key of a message type, with a clear error for unknown or misspelled types. */
  messageKey(type: string): string {
    const [pkg, kind, name] = splitType(type);
    if (kind !== 'msg') throw new GraphError(`'${type}' is a service type; topics need a message type (pkg/msg/Name)`);
    const key = defKey(pkg, name);
    if (!this.defs.has(key)) throw new GraphError(unknownTypeMessage(type, pkg));
    return key;
  }

  service(type: string): { request: string; response: string } {
    const [pkg, kind] = splitType(type);
    if (kind !== 'srv') throw new GraphError(`'${type}' is a message type; services need a service type (pkg/srv/Name)`);
    const s = this.services.get(type);
    if (!s) throw new GraphError(unknownTypeMessage(type, pkg));
    return s;
  }

  /** Checker for a definition key (from `messageKey` or `service`). */
  checker(key: string): Checker {
    return this.compiler.get(key);
  }

  /** Root definition then every nested definition, as `@foxglove/rosmsg2-serialization` wants. */
  definitionsFor(key: string): MessageDefinition[] {
    const out: MessageDefinition[] = [];
    const seen = new Set<string>();
    const visit = (k: string): void => {
      if (seen.has(k)) return;
      seen.add(k);
      const def = this.defs.get(k);
      if (!def) throw new GraphError(`no definition for '${k}'`);
      out.push(k === key ? { definitions: def.definitions } : def);
      for (const f of def.definitions) if (f.isComplex) visit(f.type);
    };
    visit(key);
    return out;
  }
}

let defaultRegistry: MessageRegistry | undefined;

function splitType(type: string): [string, 'msg' | 'srv', string] {
  const m = TYPE_RE.exec(type);
  if (!m) {
    const parts = type.split('/');
    const hint = parts.length === 2 ? ` (write '${parts[0]}/msg/${parts[1]}')` : '';
    throw new GraphError(`bad interface type '${type}': use 'package/msg/Name' or 'package/srv/Name'${hint}`);
  }
  return [m[1]!, m[2] as 'msg' | 'srv', m[3]!];
}

function unknownTypeMessage(type: string, pkg: string): string {
  return (
    `unknown interface type '${type}': not in the ROS 2 Humble common set, std_srvs, or msg/${pkg}/ of this package ` +
    `(add msg/${pkg}/msg/<Name>.msg or msg/${pkg}/srv/<Name>.srv)`
  );
}
