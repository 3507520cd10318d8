/**
 * The in-process runtime: every node of a launch in one Node.js process, with ROS 2 behaviour.
 * - Delivery is asynchronous (a callback never runs inside `publish`), one callback at a time per
 *   subscription; while an async callback is pending, messages queue and a keep_last queue drops
 *   its OLDEST message beyond `depth`, as a DDS reader history does.
 * - transient_local publishers keep their last `depth` messages for late-joining transient_local
 *   subscriptions; QoS mismatches (reliable sub / best-effort pub, ...) do not connect, with a warning.
 * - Messages are checked against their ROS 2 definition at publish time and copied once into the
 *   shape subscribers get (see `messages/check.ts`); all subscriptions share that copy, so
 *   callbacks must not mutate what they receive.
 * - `use_sim_time` nodes take time from `/clock`, and their timers advance with it.
 */
import { Subject, filter, type Subscription as RxSubscription } from 'rxjs';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { GraphError, MessageValidationError, TimeoutError } from './errors.js';
import { consoleSink, loggerNameFor, makeLogger, type LogLevel, type LogSink } from './logger.js';
import { FieldError, type Checker } from './messages/check.js';
import { MessageRegistry } from './messages/registry.js';
import { joinName, normalizeNamespace, resolveName, validateNodeName } from './names.js';
import { ParameterStore } from './params.js';
import { qosIncompatibility, resolveQoS, QOS_PROFILES, type QoSProfile } from './qos.js';
import { RosTime } from './time.js';
import type {
  Client,
  Logger,
  Message,
  NodeOptions,
  OnSetParametersCallback,
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

export type ValidationMode = 'check' | 'cdr';

export interface InProcessRuntimeOptions {
  registry?: MessageRegistry;
  /** 'cdr' additionally serializes every message to CDR (slower; catches anything the checker might miss). */
  validation?: ValidationMode;
  log?: LogSink;
  logLevel?: LogLevel;
  /** Called when a callback throws or rejects. Default: log it on the node's logger. */
  onError?: (error: Error, where: string) => void;
}

interface PubState {
  node: InProcessNode;
  qos: QoSProfile;
  history: unknown[];
}

interface SubState {
  node: InProcessNode;
  qos: QoSProfile;
  callback: SubscriptionCallback<unknown>;
  queue: unknown[];
  busy: boolean;
  scheduled: boolean;
  destroyed: boolean;
  rx?: RxSubscription;
  /** Messages dropped because the queue was full. */
  dropped: number;
}

interface TopicState {
  name: string;
  typeName: string;
  stream: Subject<{ message: unknown; from: PubState }>;
  publishers: Set<PubState>;
  subscriptions: Set<SubState>;
}

interface ServiceState {
  typeName: string;
  node: InProcessNode;
  handler: ServiceHandler<unknown, unknown>;
}

function nowSystemNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

export class InProcessRuntime implements Runtime {
  readonly kind = 'inprocess' as const;
  readonly registry: MessageRegistry;
  readonly validation: ValidationMode;
  private readonly topics = new Map<string, TopicState>();
  private readonly services = new Map<string, ServiceState>();
  private readonly serviceAdded = new Subject<string>();
  private readonly nodes = new Set<InProcessNode>();
  private readonly subs = new Set<SubState>();
  private readonly writers = new Map<string, MessageWriter>();
  private shut = false;
  readonly log: LogSink;
  readonly logLevel: LogLevel;
  private readonly onErrorHandler?: (error: Error, where: string) => void;

  constructor(options: InProcessRuntimeOptions = {}) {
    this.registry = options.registry ?? MessageRegistry.default();
    this.validation = options.validation ?? (process.env.GMPS_GRAPH_CDR_CHECK === '1' ? 'cdr' : 'check');
    this.log = options.log ?? consoleSink;
    this.logLevel = options.logLevel ?? 'info';
    this.onErrorHandler = options.onError;
  }

  get isShutdown(): boolean {
    return this.shut;
  }

  createNode(name: string, options: NodeOptions = {}): InProcessNode {
    if (this.shut) throw new GraphError('the runtime is shut down');
    const node = new InProcessNode(this, validateNodeName(name), normalizeNamespace(options.namespace), options);
    for (const other of this.nodes) {
      if (other.getFullyQualifiedName() === node.getFullyQualifiedName()) {
        throw new GraphError(`a node named ${node.getFullyQualifiedName()} already exists in this process`);
      }
    }
    this.nodes.add(node);
    node.start();
    return node;
  }

  async shutdown(): Promise<void> {
    if (this.shut) return;
    for (const n of [...this.nodes]) n.destroy();
    this.shut = true;
  }

  /** Resolves once no subscription has queued messages or a running callback (tests, benches). */
  async flush(maxRounds = 1000): Promise<void> {
    for (let i = 0; i < maxRounds; i++) {
      let pending = false;
      for (const s of this.subs) if (s.queue.length || s.busy || s.scheduled) pending = true;
      if (!pending) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Topic names with their type, publisher and subscription counts. */
  topicInfo(): Array<{ name: string; type: string; publishers: number; subscriptions: number }> {
    return [...this.topics.values()].map((t) => ({
      name: t.name,
      type: t.typeName,
      publishers: t.publishers.size,
      subscriptions: t.subscriptions.size,
    }));
  }

  reportError(error: unknown, where: string, node: InProcessNode): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.onErrorHandler) this.onErrorHandler(err, where);
    else node.getLogger().error(`${where}: ${err.stack ?? err.message}`);
  }

  // ---- topics

  private topic(name: string, typeName: string, who: string): TopicState {
    let t = this.topics.get(name);
    if (!t) {
      t = { name, typeName, stream: new Subject(), publishers: new Set(), subscriptions: new Set() };
      this.topics.set(name, t);
    } else if (t.typeName !== typeName) {
      throw new GraphError(`${who}: topic ${name} already carries ${t.typeName}; cannot use it as ${typeName}`);
    }
    return t;
  }

  addPublisher(node: InProcessNode, typeName: string, topicName: string, qos: QoSProfile): Publisher<Message> {
    const key = this.registry.messageKey(typeName);
    const check = this.registry.checker(key);
    const t = this.topic(topicName, typeName, node.getFullyQualifiedName());
    const state: PubState = { node, qos, history: [] };
    t.publishers.add(state);
    for (const s of t.subscriptions) this.warnIfIncompatible(state, s, t);
    const latched = qos.durability === 'transient_local';
    const keep = qos.history === 'keep_last' ? qos.depth : Infinity;
    const cdr = this.validation === 'cdr' ? this.writer(key) : undefined;
    const runtime = this;
    const pub: Publisher<Message> & { destroy(): void } = {
      topic: topicName,
      typeName,
      publish(message: Message): void {
        if (runtime.shut) return;
        let copy: unknown;
        try {
          copy = check(message, '');
          if (cdr) cdr.writeMessage(copy);
        } catch (err) {
          if (err instanceof FieldError) throw new MessageValidationError(topicName, typeName, err.path, err.problem);
          throw new MessageValidationError(topicName, typeName, '', `does not serialize to CDR: ${(err as Error).message}`);
        }
        if (latched) {
          state.history.push(copy);
          if (state.history.length > keep) state.history.shift();
        }
        t.stream.next({ message: copy, from: state });
      },
      getSubscriptionCount(): number {
        let n = 0;
        for (const s of t.subscriptions) if (!qosIncompatibility(state.qos, s.qos)) n++;
        return n;
      },
      destroy(): void {
        t.publishers.delete(state);
      },
    };
    node.own(() => pub.destroy());
    return pub;
  }

  addSubscription(
    node: InProcessNode,
    typeName: string,
    topicName: string,
    qos: QoSProfile,
    callback: SubscriptionCallback<unknown>,
  ): Subscription {
    this.registry.messageKey(typeName);
    const t = this.topic(topicName, typeName, node.getFullyQualifiedName());
    const s: SubState = { node, qos, callback, queue: [], busy: false, scheduled: false, destroyed: false, dropped: 0 };
    t.subscriptions.add(s);
    this.subs.add(s);
    for (const p of t.publishers) this.warnIfIncompatible(p, s, t);
    s.rx = t.stream.pipe(filter(({ from }) => !qosIncompatibility(from.qos, s.qos))).subscribe(({ message }) => this.enqueue(s, message));
    if (qos.durability === 'transient_local') {
      for (const p of t.publishers) {
        if (!qosIncompatibility(p.qos, s.qos)) for (const m of p.history) this.enqueue(s, m);
      }
    }
    node.own(() => {
      s.destroyed = true;
      s.queue.length = 0;
      s.rx?.unsubscribe();
      t.subscriptions.delete(s);
      this.subs.delete(s);
    });
    return { topic: topicName, typeName };
  }

  private warnIfIncompatible(p: PubState, s: SubState, t: TopicState): void {
    const why = qosIncompatibility(p.qos, s.qos);
    if (why) {
      s.node
        .getLogger()
        .warn(`QoS mismatch on ${t.name} with ${p.node.getFullyQualifiedName()}: ${why}; they will not communicate`);
    }
  }

  private enqueue(s: SubState, message: unknown): void {
    if (s.destroyed) return;
    if (s.qos.history === 'keep_last' && s.queue.length >= s.qos.depth) {
      s.queue.shift();
      s.dropped++;
    }
    s.queue.push(message);
    this.schedule(s);
  }

  private schedule(s: SubState): void {
    if (s.scheduled || s.busy || s.destroyed) return;
    s.scheduled = true;
    setImmediate(() => this.drain(s));
  }

  private drain(s: SubState): void {
    s.scheduled = false;
    while (s.queue.length && !s.busy && !s.destroyed && !this.shut) {
      const m = s.queue.shift();
      let r: void | Promise<void>;
      try {
        r = s.callback(m);
      } catch (err) {
        this.reportError(err, `subscription callback threw`, s.node);
        continue;
      }
      if (r && typeof (r as Promise<void>).then === 'function') {
        s.busy = true;
        (r as Promise<void>).then(
          () => {
            s.busy = false;
            if (s.queue.length) this.schedule(s);
          },
          (err: unknown) => {
            s.busy = false;
            this.reportError(err, `subscription callback rejected`, s.node);
            if (s.queue.length) this.schedule(s);
          },
        );
      }
    }
  }

  private writer(key: string): MessageWriter {
    let w = this.writers.get(key);
    if (!w) {
      w = new MessageWriter(this.registry.definitionsFor(key));
      this.writers.set(key, w);
    }
    return w;
  }

  // ---- services

  addService(node: InProcessNode, typeName: string, name: string, handler: ServiceHandler<unknown, unknown>): Service {
    this.registry.service(typeName);
    const existing = this.services.get(name);
    if (existing) {
      throw new GraphError(
        `${node.getFullyQualifiedName()}: service ${name} is already provided by ${existing.node.getFullyQualifiedName()}`,
      );
    }
    this.services.set(name, { typeName, node, handler });
    this.serviceAdded.next(name);
    node.own(() => {
      if (this.services.get(name)?.node === node) this.services.delete(name);
    });
    return { serviceName: name, typeName };
  }

  addClient(node: InProcessNode, typeName: string, name: string): Client<unknown, unknown> {
    const { request, response } = this.registry.service(typeName);
    const checkReq: Checker = this.registry.checker(request);
    const checkRes: Checker = this.registry.checker(response);
    const runtime = this;
    const available = (): boolean => {
      const s = runtime.services.get(name);
      return !!s && s.typeName === typeName;
    };
    const waitForService = (timeoutMs?: number): Promise<boolean> => {
      if (available()) return Promise.resolve(true);
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const finish = (ok: boolean): void => {
          if (timer) clearTimeout(timer);
          sub.unsubscribe();
          forget();
          resolve(ok);
        };
        const sub = runtime.serviceAdded.pipe(filter((n) => n === name)).subscribe(() => {
          if (available()) finish(true);
        });
        const forget = node.own(() => finish(false));
        if (timeoutMs !== undefined && timeoutMs >= 0) timer = setTimeout(() => finish(available()), timeoutMs);
      });
    };
    return {
      serviceName: name,
      typeName,
      isServiceServerAvailable: available,
      waitForService,
      async sendRequestAsync(req: unknown, options: SendRequestOptions = {}): Promise<unknown> {
        let checked: unknown;
        try {
          checked = checkReq(req, '');
        } catch (err) {
          if (err instanceof FieldError) throw new MessageValidationError(name, `${typeName} request`, err.path, err.problem);
          throw err;
        }
        const started = performance.now();
        if (!available()) {
          const t = runtime.services.get(name);
          if (t) throw new GraphError(`service ${name} has type ${t.typeName}, the client asked for ${typeName}`);
          if (options.timeout === undefined) {
            throw new GraphError(`no server for service ${name}; call waitForService() before sending requests`);
          }
          if (!(await waitForService(options.timeout))) {
            throw new TimeoutError(`service ${name} did not answer within ${options.timeout} ms (no server)`);
          }
        }
        const server = runtime.services.get(name)!;
        const call = new Promise<unknown>((resolve, reject) => {
          setImmediate(() => {
            Promise.resolve()
              .then(() => server.handler(checked))
              .then((res) => {
                try {
                  resolve(checkRes(res, ''));
                } catch (err) {
                  if (err instanceof FieldError) {
                    reject(new MessageValidationError(name, `${typeName} response`, err.path, err.problem));
                  } else reject(err);
                }
              }, (err: unknown) => {
                runtime.reportError(err, `service ${name} handler failed`, server.node);
                reject(new GraphError(`service ${name} handler failed: ${(err as Error)?.message ?? String(err)}`));
              });
          });
        });
        const races: Array<Promise<unknown>> = [call];
        let timer: NodeJS.Timeout | undefined;
        if (options.timeout !== undefined && options.timeout >= 0) {
          const left = Math.max(0, options.timeout - (performance.now() - started));
          races.push(
            new Promise((_, reject) => {
              timer = setTimeout(
                () => reject(new TimeoutError(`service ${name} did not answer within ${options.timeout} ms`)),
                left,
              );
            }),
          );
        }
        if (options.signal) {
          const signal = options.signal;
          races.push(
            new Promise((_, reject) => {
              if (signal.aborted) reject(signal.reason ?? new Error('aborted'));
              signal.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), { once: true });
            }),
          );
        }
        try {
          return await Promise.race(races);
        } finally {
          if (timer) clearTimeout(timer);
        }
      },
    };
  }

  removeNode(node: InProcessNode): void {
    this.nodes.delete(node);
  }
}

interface TimerState {
  periodNs: bigint;
  callback: TimerCallback;
  canceled: boolean;
  busy: boolean;
  nextNs: bigint;
  handle?: NodeJS.Timeout;
  /** Periods skipped because the previous call was still running. */
  missed: number;
}

export class InProcessNode implements RosNode {
  private readonly params: ParameterStore;
  private readonly logger: Logger;
  private readonly remaps: ReadonlyArray<readonly [string, string]>;
  private readonly cleanups: Array<() => void> = [];
  private readonly timers = new Set<TimerState>();
  private useSimTime = false;
  private simNowNs: bigint | undefined;
  private clockSubscribed = false;
  private destroyed = false;

  constructor(
    private readonly runtime: InProcessRuntime,
    private readonly nodeName: string,
    private readonly ns: string,
    options: NodeOptions,
  ) {
    this.params = new ParameterStore(this.getFullyQualifiedName(), options.parameterOverrides ?? {});
    this.logger = makeLogger(loggerNameFor(this.getFullyQualifiedName()), runtime.log, runtime.logLevel);
    this.remaps = options.remaps ?? [];
  }

  /** Declares `use_sim_time` (as every ROS 2 node does) and follows it. */
  start(): void {
    this.useSimTime = this.params.declare('use_sim_time', 'bool', false, {
      description: 'Take time from /clock instead of the system clock',
    });
    if (this.useSimTime) this.subscribeClock();
  }

  /** Runs `cleanup` when the node is destroyed; the returned function forgets it. */
  own(cleanup: () => void): () => void {
    this.cleanups.push(cleanup);
    return () => {
      const i = this.cleanups.indexOf(cleanup);
      if (i >= 0) this.cleanups.splice(i, 1);
    };
  }

  name(): string {
    return this.nodeName;
  }

  namespace(): string {
    return this.ns;
  }

  getFullyQualifiedName(): string {
    return joinName(this.ns, this.nodeName);
  }

  resolveName(name: string): string {
    return resolveName(name, this.nodeName, this.ns, this.remaps);
  }

  private alive(): void {
    if (this.destroyed) throw new GraphError(`node ${this.getFullyQualifiedName()} is destroyed`);
  }

  createPublisher<T = Message>(typeName: string, topic: string, options: PubSubOptions = {}): Publisher<T> {
    this.alive();
    return this.runtime.addPublisher(this, typeName, this.resolveName(topic), resolveQoS(options.qos)) as Publisher<T>;
  }

  createSubscription<T = Message>(
    typeName: string,
    topic: string,
    options: PubSubOptions | SubscriptionCallback<T>,
    callback?: SubscriptionCallback<T>,
  ): Subscription {
    this.alive();
    const [opts, cb] = typeof options === 'function' ? [{}, options] : [options, callback];
    if (typeof cb !== 'function') throw new GraphError(`createSubscription(${topic}): a callback is required`);
    return this.runtime.addSubscription(
      this,
      typeName,
      this.resolveName(topic),
      resolveQoS(opts.qos),
      cb as SubscriptionCallback<unknown>,
    );
  }

  createService<Req = Message, Res = Message>(
    typeName: string,
    serviceName: string,
    handler: ServiceHandler<Req, Res>,
  ): Service {
    this.alive();
    return this.runtime.addService(this, typeName, this.resolveName(serviceName), handler as ServiceHandler<unknown, unknown>);
  }

  createClient<Req = Message, Res = Message>(typeName: string, serviceName: string): Client<Req, Res> {
    this.alive();
    return this.runtime.addClient(this, typeName, this.resolveName(serviceName)) as Client<Req, Res>;
  }

  createTimer(periodNs: bigint, callback: TimerCallback): Timer {
    this.alive();
    if (typeof periodNs !== 'bigint' || periodNs <= 0n) {
      throw new GraphError(`createTimer: period must be a positive bigint of nanoseconds (e.g. 50_000_000n for 20 Hz), got ${String(periodNs)}`);
    }
    const st: TimerState = { periodNs, callback, canceled: false, busy: false, nextNs: 0n, missed: 0 };
    this.timers.add(st);
    this.armTimer(st);
    const timer: Timer & { missedPeriods(): number } = {
      periodNs,
      cancel: () => {
        st.canceled = true;
        if (st.handle) clearTimeout(st.handle);
      },
      reset: () => {
        st.canceled = false;
        if (st.handle) clearTimeout(st.handle);
        this.armTimer(st);
      },
      isCanceled: () => st.canceled,
      missedPeriods: () => st.missed,
    };
    this.own(() => timer.cancel());
    return timer;
  }

  private armTimer(st: TimerState): void {
    st.nextNs = this.now().nanoseconds + st.periodNs;
    if (!this.useSimTime) this.scheduleWall(st);
  }

  private scheduleWall(st: TimerState): void {
    if (st.canceled || this.destroyed) return;
    const delayMs = Number(st.nextNs - nowSystemNs()) / 1e6;
    st.handle = setTimeout(() => this.fireWall(st), Math.max(0, delayMs));
  }

  private fireWall(st: TimerState): void {
    if (st.canceled || this.destroyed || this.useSimTime) return;
    const now = nowSystemNs();
    this.fire(st);
    st.nextNs += st.periodNs;
    if (st.nextNs <= now) {
      // Fell behind by whole periods (blocked event loop): skip them rather than bursting.
      const behind = (now - st.nextNs) / st.periodNs + 1n;
      st.missed += Number(behind);
      st.nextNs += behind * st.periodNs;
    }
    this.scheduleWall(st);
  }

  private fire(st: TimerState): void {
    if (st.busy) {
      st.missed++;
      return;
    }
    let r: void | Promise<void>;
    try {
      r = st.callback();
    } catch (err) {
      this.runtime.reportError(err, 'timer callback threw', this);
      return;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      st.busy = true;
      (r as Promise<void>).then(
        () => {
          st.busy = false;
        },
        (err: unknown) => {
          st.busy = false;
          this.runtime.reportError(err, 'timer callback rejected', this);
        },
      );
    }
  }

  private onClock(ns: bigint): void {
    this.simNowNs = ns;
    if (!this.useSimTime) return;
    for (const st of this.timers) {
      if (st.canceled) continue;
      if (st.nextNs === 0n || st.nextNs > ns + 100n * st.periodNs) st.nextNs = ns + st.periodNs; // armed before /clock, or time jumped back
      if (ns >= st.nextNs) {
        this.fire(st);
        st.nextNs += st.periodNs;
        if (st.nextNs <= ns) {
          const behind = (ns - st.nextNs) / st.periodNs + 1n;
          st.missed += Number(behind);
          st.nextNs += behind * st.periodNs;
        }
      }
    }
  }

  private subscribeClock(): void {
    if (this.clockSubscribed) return;
    this.clockSubscribed = true;
    this.runtime.addSubscription(this, 'rosgraph_msgs/msg/Clock', '/clock', { ...QOS_PROFILES.clock }, (m) => {
      const c = (m as { clock: { sec: number; nanosec: number } }).clock;
      this.onClock(RosTime.fromMsg(c).nanoseconds);
    });
  }

  private setUseSimTime(on: boolean): void {
    if (on === this.useSimTime) return;
    this.useSimTime = on;
    if (on) {
      for (const st of this.timers) if (st.handle) clearTimeout(st.handle);
      for (const st of this.timers) st.nextNs = 0n;
      this.subscribeClock();
    } else {
      for (const st of this.timers) if (!st.canceled) this.armTimer(st);
    }
  }

  declareParameter<V extends ParameterValue = ParameterValue>(
    name: string,
    type: ParameterTypeName,
    defaultValue: V,
    descriptor?: ParameterDescriptor,
  ): V {
    this.alive();
    return this.params.declare(name, type, defaultValue, descriptor);
  }

  hasParameter(name: string): boolean {
    return this.params.has(name);
  }

  getParameter<V extends ParameterValue = ParameterValue>(name: string): V {
    return this.params.get<V>(name);
  }

  setParameters(parameters: Array<{ name: string; value: ParameterValue }>): SetParametersResult[] {
    const res = this.params.set(parameters);
    this.setUseSimTime(this.params.get<boolean>('use_sim_time'));
    return res;
  }

  addOnSetParametersCallback(callback: OnSetParametersCallback): void {
    this.params.addCallback(callback);
  }

  removeOnSetParametersCallback(callback: OnSetParametersCallback): void {
    this.params.removeCallback(callback);
  }

  /** Launch overrides no declared parameter consumed. */
  unusedParameterOverrides(): string[] {
    return this.params.unusedOverrides();
  }

  getLogger(): Logger {
    return this.logger;
  }

  now(): RosTime {
    if (this.useSimTime) return new RosTime(this.simNowNs ?? 0n);
    return new RosTime(nowSystemNs());
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.cleanups.splice(0).reverse()) c();
    for (const st of this.timers) if (st.handle) clearTimeout(st.handle);
    this.timers.clear();
    this.runtime.removeNode(this);
  }
}
