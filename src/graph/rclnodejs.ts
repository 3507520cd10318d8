/**
 * The node interface over rclnodejs 2.2 (a sourced ROS 2 Humble/Jazzy). rclnodejs is imported
 * lazily, only when `AMENT_PREFIX_PATH` is set: without ROS 2 its import tries to compile itself.
 * `--ros-args` on the command line (node name, namespace, `-p`, `--params-file`, `-r`) are
 * handled by rcl through `init(context, argv)`.
 *
 * Behaviour kept identical to the in-process runtime: messages of known types are checked before
 * publishing; an async subscription callback gets one message at a time with a keep_last queue
 * that drops the oldest; a timer skips a period while its async callback still runs.
 */
import { GraphError } from './errors.js';
import { MessageValidationError } from './errors.js';
import { FieldError, type Checker } from './messages/check.js';
import { MessageRegistry } from './messages/registry.js';
import { expandName, joinName, resolveName } from './names.js';
import { coerceParameterValue, inferParameterType } from './params.js';
import { resolveQoS, type QoSProfile, type QoSProfileName } from './qos.js';
import { RosTime } from './time.js';
import type {
  Client,
  Logger,
  Message,
  NodeOptions,
  OnSetParametersCallback,
  Parameter,
  ParameterDescriptor,
  ParameterTypeName,
  ParameterValue,
  PubSubOptions,
  Publisher,
  RosNode,
  Runtime,
  SendRequestOptions,
  Service,
  ServiceHandler,
  SetParametersResult,
  Subscription,
  SubscriptionCallback,
  Timer,
  TimerCallback,
} from './types.js';

/* The subset of the rclnodejs 2.2 module this adapter calls (names and shapes from its types/). */
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface RclParameter {
  name: string;
  type: number;
  value: any;
}
export interface RclNodeLike {
  name(): string;
  namespace(): string;
  createPublisher(type: string, topic: string, options?: object): { publish(msg: unknown): void; subscriptionCount?: number };
  createSubscription(type: string, topic: string, options: object, cb: (msg: any) => void): unknown;
  createService(type: string, name: string, cb: (req: any, resp: { send(r: unknown): void }) => void): unknown;
  createClient(type: string, name: string): {
    isServiceServerAvailable(): boolean;
    waitForService(timeout?: number): Promise<boolean>;
    sendRequestAsync(req: unknown, options?: { timeout?: number; signal?: AbortSignal }): Promise<any>;
  };
  createTimer(period: bigint, cb: () => void, clock?: unknown): { cancel(): void; reset(): void; isCanceled(): boolean };
  declareParameter(p: RclParameter, descriptor?: unknown, ignoreOverride?: boolean): RclParameter;
  hasParameter(name: string): boolean;
  getParameter(name: string): RclParameter;
  setParameters(ps: RclParameter[]): Array<{ successful: boolean; reason: string }>;
  addOnSetParametersCallback(cb: (ps: RclParameter[]) => { successful: boolean; reason: string }): void;
  removeOnSetParametersCallback(cb: (ps: RclParameter[]) => { successful: boolean; reason: string }): void;
  getLogger(): Logger;
  getClock(): unknown;
  now(): { nanoseconds: bigint };
  spin(timeout?: number): void;
  destroy(): void;
}
export interface RclnodejsModule {
  init(context?: unknown, argv?: string[]): Promise<void>;
  shutdown(context?: unknown): void | Promise<void>;
  Node: new (name: string, namespace?: string, context?: unknown, options?: unknown) => RclNodeLike;
  NodeOptions: new () => { parameterOverrides: RclParameter[] };
  QoS: (new (history?: number, depth?: number, reliability?: number, durability?: number) => object) & {
    profileDefault: string;
    profileSystemDefault: string;
    profileSensorData: string;
    profileServicesDefault: string;
    profileParameters: string;
    HistoryPolicy: Record<string, number>;
    ReliabilityPolicy: Record<string, number>;
    DurabilityPolicy: Record<string, number>;
  };
  Parameter: new (name: string, type: number, value?: unknown) => RclParameter;
  ParameterType: Record<string, number>;
  ParameterDescriptor: new (name: string, type: number, description?: string, readOnly?: boolean, range?: unknown) => object;
  FloatingPointRange: new (from: number, to: number, step?: number) => object;
  IntegerRange: new (from: number, to: number, step?: number) => object;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface RclnodejsRuntimeOptions {
  /** Loads the module; tests pass a fake. Default: `import('rclnodejs')`. */
  loader?: () => Promise<unknown>;
  /** argv given to `rclnodejs.init` (its `--ros-args` are applied by rcl). Default: process.argv. */
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  registry?: MessageRegistry;
}

const PARAM_TYPE_KEY: Record<ParameterTypeName, string> = {
  bool: 'PARAMETER_BOOL',
  integer: 'PARAMETER_INTEGER',
  double: 'PARAMETER_DOUBLE',
  string: 'PARAMETER_STRING',
  byte_array: 'PARAMETER_BYTE_ARRAY',
  bool_array: 'PARAMETER_BOOL_ARRAY',
  integer_array: 'PARAMETER_INTEGER_ARRAY',
  double_array: 'PARAMETER_DOUBLE_ARRAY',
  string_array: 'PARAMETER_STRING_ARRAY',
};

const PROFILE_KEY: Partial<Record<QoSProfileName, keyof RclnodejsModule['QoS']>> = {
  default: 'profileDefault',
  system_default: 'profileSystemDefault',
  sensor_data: 'profileSensorData',
  services_default: 'profileServicesDefault',
  parameters: 'profileParameters',
};

export async function createRclnodejsRuntime(options: RclnodejsRuntimeOptions = {}): Promise<RclnodejsRuntime> {
  const env = options.env ?? process.env;
  if (!env.AMENT_PREFIX_PATH) {
    throw new GraphError(
      'the rclnodejs runtime needs a sourced ROS 2 (AMENT_PREFIX_PATH is not set): run `source /opt/ros/<distro>/setup.bash` ' +
        '(and your workspace install/setup.bash), or use the in-process runtime',
    );
  }
  let mod: unknown;
  try {
    mod = await (options.loader ?? (() => import('rclnodejs' as string)))();
  } catch (err) {
    throw new GraphError(
      `cannot load rclnodejs (${(err as Error).message.split('\n')[0]}); with ROS 2 sourced, run \`npm install rclnodejs@^2.2\` in this package`,
    );
  }
  const rcl = ((mod as { default?: unknown }).default ?? mod) as RclnodejsModule;
  await rcl.init(undefined, options.argv ?? process.argv);
  return new RclnodejsRuntime(rcl, options.registry ?? MessageRegistry.default());
}

export class RclnodejsRuntime implements Runtime {
  readonly kind = 'rclnodejs' as const;
  private readonly nodes = new Set<RclnodejsNode>();
  private shut = false;

  constructor(
    readonly rcl: RclnodejsModule,
    readonly registry: MessageRegistry,
  ) {}

  get isShutdown(): boolean {
    return this.shut;
  }

  createNode(name: string, options: NodeOptions = {}): RclnodejsNode {
    if (this.shut) throw new GraphError('the runtime is shut down');
    let nodeOptions: unknown;
    const overrides = Object.entries(options.parameterOverrides ?? {});
    if (overrides.length) {
      const no = new this.rcl.NodeOptions();
      no.parameterOverrides = overrides.map(([k, v]) => {
        const type = inferParameterType(v);
        return new this.rcl.Parameter(k, this.paramType(type), toRclValue(type, v));
      });
      nodeOptions = no;
    }
    const raw = new this.rcl.Node(name, options.namespace ?? '', undefined, nodeOptions);
    const node = new RclnodejsNode(this, raw, options.remaps ?? []);
    this.nodes.add(node);
    raw.spin();
    return node;
  }

  paramType(type: ParameterTypeName): number {
    const v = this.rcl.ParameterType[PARAM_TYPE_KEY[type]];
    if (v === undefined) throw new GraphError(`rclnodejs has no ParameterType.${PARAM_TYPE_KEY[type]}`);
    return v;
  }

  paramTypeName(type: number): ParameterTypeName | undefined {
    for (const [name, key] of Object.entries(PARAM_TYPE_KEY)) {
      if (this.rcl.ParameterType[key] === type) return name as ParameterTypeName;
    }
    return undefined;
  }

  qos(profile: PubSubOptions['qos']): unknown {
    if (typeof profile === 'string') {
      const key = PROFILE_KEY[profile];
      if (key) return this.rcl.QoS[key];
    }
    const q: QoSProfile = resolveQoS(profile);
    const { HistoryPolicy, ReliabilityPolicy, DurabilityPolicy } = this.rcl.QoS;
    return new this.rcl.QoS(
      q.history === 'keep_all' ? HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_ALL : HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST,
      q.depth,
      q.reliability === 'best_effort'
        ? ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT
        : ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE,
      q.durability === 'transient_local'
        ? DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL
        : DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_VOLATILE,
    );
  }

  forget(node: RclnodejsNode): void {
    this.nodes.delete(node);
  }

  async shutdown(): Promise<void> {
    if (this.shut) return;
    for (const n of [...this.nodes]) n.destroy();
    this.shut = true;
    await this.rcl.shutdown();
  }
}

function toRclValue(type: ParameterTypeName, v: ParameterValue): unknown {
  if (type === 'integer') return BigInt(v as number);
  if (type === 'integer_array') return (v as number[]).map((x) => BigInt(x));
  return v;
}

function fromRclValue(v: unknown): ParameterValue {
  if (typeof v === 'bigint') return Number(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as ParameterValue;
  return v as ParameterValue;
}

export class RclnodejsNode implements RosNode {
  private readonly setCallbacks = new Map<OnSetParametersCallback, (ps: RclParameter[]) => SetParametersResult>();

  constructor(
    private readonly runtime: RclnodejsRuntime,
    readonly raw: RclNodeLike,
    private readonly remaps: ReadonlyArray<readonly [string, string]>,
  ) {}

  name(): string {
    return this.raw.name();
  }

  namespace(): string {
    return this.raw.namespace() || '/';
  }

  getFullyQualifiedName(): string {
    return joinName(this.namespace(), this.name());
  }

  /** Applies the remaps given in NodeOptions; command-line remaps are applied by rcl afterwards. */
  private name_(n: string): string {
    return this.remaps.length ? resolveName(n, this.name(), this.namespace(), this.remaps) : n;
  }

  resolveName(n: string): string {
    return this.remaps.length ? this.name_(n) : expandName(n, this.name(), this.namespace());
  }

  private checkerFor(typeName: string): Checker | undefined {
    const reg = this.runtime.registry;
    return reg.hasMessage(typeName) ? reg.checker(reg.messageKey(typeName)) : undefined;
  }

  createPublisher<T = Message>(typeName: string, topic: string, options: PubSubOptions = {}): Publisher<T> {
    const t = this.name_(topic);
    const pub = this.raw.createPublisher(typeName, t, { qos: this.runtime.qos(options.qos) });
    const check = this.checkerFor(typeName);
    return {
      topic: t,
      typeName,
      publish(message: T): void {
        let out: unknown = message;
        if (check) {
          try {
            out = check(message, '');
          } catch (err) {
            if (err instanceof FieldError) throw new MessageValidationError(t, typeName, err.path, err.problem);
            throw err;
          }
        }
        pub.publish(out);
      },
      getSubscriptionCount: () => pub.subscriptionCount ?? 0,
    };
  }

  createSubscription<T = Message>(
    typeName: string,
    topic: string,
    options: PubSubOptions,
    callback: SubscriptionCallback<T>,
  ): Subscription {
    const t = this.name_(topic);
    const q = resolveQoS(options.qos);
    const depth = q.history === 'keep_last' ? q.depth : Infinity;
    const queue: T[] = [];
    let busy = false;
    const logger = this.getLogger();
    const pump = (): void => {
      while (!busy && queue.length) {
        const m = queue.shift()!;
        let r: void | Promise<void>;
        try {
          r = callback(m);
        } catch (err) {
          logger.error(`subscription callback on ${t} threw: ${(err as Error).stack ?? String(err)}`);
          continue;
        }
        if (r && typeof (r as Promise<void>).then === 'function') {
          busy = true;
          (r as Promise<void>).then(
            () => {
              busy = false;
              pump();
            },
            (err: unknown) => {
              busy = false;
              logger.error(`subscription callback on ${t} rejected: ${(err as Error)?.stack ?? String(err)}`);
              pump();
            },
          );
        }
      }
    };
    this.raw.createSubscription(typeName, t, { qos: this.runtime.qos(options.qos) }, (msg: T) => {
      if (queue.length >= depth) queue.shift();
      queue.push(msg);
      pump();
    });
    return { topic: t, typeName };
  }

  createService<Req = Message, Res = Message>(
    typeName: string,
    serviceName: string,
    handler: ServiceHandler<Req, Res>,
  ): Service {
    const s = this.name_(serviceName);
    const logger = this.getLogger();
    this.raw.createService(typeName, s, (request: Req, response) => {
      Promise.resolve()
        .then(() => handler(request))
        .then(
          (res) => response.send(res),
          (err: unknown) => logger.error(`service ${s} handler failed (no response sent): ${(err as Error)?.stack ?? String(err)}`),
        );
    });
    return { serviceName: s, typeName };
  }

  createClient<Req = Message, Res = Message>(typeName: string, serviceName: string): Client<Req, Res> {
    const s = this.name_(serviceName);
    const c = this.raw.createClient(typeName, s);
    return {
      serviceName: s,
      typeName,
      isServiceServerAvailable: () => c.isServiceServerAvailable(),
      waitForService: (timeoutMs?: number) => c.waitForService(timeoutMs),
      sendRequestAsync: (req: Req, options?: SendRequestOptions) => c.sendRequestAsync(req, options) as Promise<Res>,
    };
  }

  createTimer(periodNs: bigint, callback: TimerCallback): Timer {
    if (typeof periodNs !== 'bigint' || periodNs <= 0n) {
      throw new GraphError(`createTimer: period must be a positive bigint of nanoseconds, got ${String(periodNs)}`);
    }
    let busy = false;
    const logger = this.getLogger();
    const t = this.raw.createTimer(
      periodNs,
      () => {
        if (busy) return;
        let r: void | Promise<void>;
        try {
          r = callback();
        } catch (err) {
          logger.error(`timer callback threw: ${(err as Error).stack ?? String(err)}`);
          return;
        }
        if (r && typeof (r as Promise<void>).then === 'function') {
          busy = true;
          (r as Promise<void>).then(
            () => (busy = false),
            (err: unknown) => {
              busy = false;
              logger.error(`timer callback rejected: ${(err as Error)?.stack ?? String(err)}`);
            },
          );
        }
      },
      this.raw.getClock(),
    );
    return { periodNs, cancel: () => t.cancel(), reset: () => t.reset(), isCanceled: () => t.isCanceled() };
  }

  declareParameter<V extends ParameterValue = ParameterValue>(
    name: string,
    type: ParameterTypeName,
    defaultValue: V,
    descriptor: ParameterDescriptor = {},
  ): V {
    const rcl = this.runtime.rcl;
    const pt = this.runtime.paramType(type);
    const c = coerceParameterValue(type, defaultValue);
    if (!c.ok) throw new GraphError(`${this.getFullyQualifiedName()}: parameter '${name}' default: ${c.reason}`);
    let range: unknown;
    if (descriptor.range) {
      const R = type === 'integer' ? rcl.IntegerRange : rcl.FloatingPointRange;
      range = new R(descriptor.range.from, descriptor.range.to, descriptor.range.step ?? 0);
    }
    const desc = new rcl.ParameterDescriptor(name, pt, descriptor.description ?? '', descriptor.readOnly ?? false, range);
    let p: RclParameter;
    try {
      p = this.raw.declareParameter(new rcl.Parameter(name, pt, toRclValue(type, c.value)), desc);
    } catch (err) {
      throw new GraphError(`${this.getFullyQualifiedName()}: parameter '${name}': ${(err as Error).message}`);
    }
    return fromRclValue(p.value) as V;
  }

  hasParameter(name: string): boolean {
    return this.raw.hasParameter(name);
  }

  getParameter<V extends ParameterValue = ParameterValue>(name: string): V {
    if (!this.raw.hasParameter(name)) {
      throw new GraphError(`${this.getFullyQualifiedName()}: parameter '${name}' is not declared`);
    }
    return fromRclValue(this.raw.getParameter(name).value) as V;
  }

  setParameters(parameters: Array<{ name: string; value: ParameterValue }>): SetParametersResult[] {
    const rcl = this.runtime.rcl;
    const out: SetParametersResult[] = [];
    const toSet: RclParameter[] = [];
    const slots: number[] = [];
    parameters.forEach(({ name, value }, i) => {
      if (!this.raw.hasParameter(name)) {
        out[i] = { successful: false, reason: `parameter '${name}' is not declared` };
        return;
      }
      const type = this.runtime.paramTypeName(this.raw.getParameter(name).type);
      const c = type ? coerceParameterValue(type, value) : undefined;
      if (!type || !c || !c.ok) {
        out[i] = { successful: false, reason: `parameter '${name}': ${c && !c.ok ? c.reason : 'unknown type'}` };
        return;
      }
      toSet.push(new rcl.Parameter(name, this.runtime.paramType(type), toRclValue(type, c.value)));
      slots.push(i);
    });
    if (toSet.length) {
      const results = this.raw.setParameters(toSet);
      results.forEach((r, k) => (out[slots[k]!] = { successful: r.successful, reason: r.reason ?? '' }));
    }
    return out;
  }

  addOnSetParametersCallback(callback: OnSetParametersCallback): void {
    const wrapped = (ps: RclParameter[]): SetParametersResult =>
      callback(
        ps.map(
          (p): Parameter => ({ name: p.name, type: this.runtime.paramTypeName(p.type) ?? 'string', value: fromRclValue(p.value) }),
        ),
      );
    this.setCallbacks.set(callback, wrapped);
    this.raw.addOnSetParametersCallback(wrapped);
  }

  removeOnSetParametersCallback(callback: OnSetParametersCallback): void {
    const w = this.setCallbacks.get(callback);
    if (w) this.raw.removeOnSetParametersCallback(w);
    this.setCallbacks.delete(callback);
  }

  getLogger(): Logger {
    return this.raw.getLogger();
  }

  now(): RosTime {
    return new RosTime(this.raw.now().nanoseconds);
  }

  destroy(): void {
    this.raw.destroy();
    this.runtime.forget(this);
  }
}
