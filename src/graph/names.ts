/** ROS 2 name expansion and remapping (design article "Topic and Service name mapping"). */
import { GraphError } from './errors.js';

const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOKEN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateNodeName(name: string): string {
  if (!NODE_NAME.test(name)) {
    throw new GraphError(`invalid node name '${name}': use letters, digits and '_', not starting with a digit`);
  }
  return name;
}

/** '' / '/' → '/', 'robot' → '/robot', '/a/b/' → '/a/b'. */
export function normalizeNamespace(ns: string | undefined): string {
  if (!ns || ns === '/') return '/';
  let out = ns.startsWith('/') ? ns : `/${ns}`;
  out = out.replace(/\/+$/, '');
  checkTokens(out, 'namespace');
  return out || '/';
}

function checkTokens(fullName: string, what: string): void {
  const tokens = fullName.split('/').slice(1);
  for (const t of tokens) {
    if (!TOKEN.test(t)) {
      throw new GraphError(
        `invalid ${what} '${fullName}': each part between '/' must be letters, digits or '_', not starting with a digit`,
      );
    }
  }
}

export function joinName(ns: string, name: string): string {
  return ns === '/' ? `/${name}` : `${ns}/${name}`;
}

/** Expands a relative, private (`~`, `~/x`) or absolute name for a node. */
export function expandName(name: string, nodeName: string, ns: string): string {
  if (!name) throw new GraphError('empty topic or service name');
  let n = name.replaceAll('{node}', nodeName).replaceAll('{ns}', ns === '/' ? '' : ns.slice(1));
  if (n === '~') n = joinName(ns, nodeName);
  else if (n.startsWith('~/')) n = `${joinName(ns, nodeName)}/${n.slice(2)}`;
  else if (!n.startsWith('/')) n = ns === '/' ? `/${n}` : `${ns}/${n}`;
  if (n.endsWith('/') && n.length > 1) throw new GraphError(`invalid name '${name}': must not end with '/'`);
  if (n.includes('//')) throw new GraphError(`invalid name '${name}': contains '//'`);
  checkTokens(n, 'name');
  return n;
}

/** Expands `name`, then applies the first remap rule whose expanded `from` matches. */
export function resolveName(
  name: string,
  nodeName: string,
  ns: string,
  remaps: ReadonlyArray<readonly [string, string]>,
): string {
  const expanded = expandName(name, nodeName, ns);
  for (const [from, to] of remaps) {
    if (from.startsWith('__')) continue;
    if (expandName(from, nodeName, ns) === expanded) return expandName(to, nodeName, ns);
  }
  return expanded;
}
