/**
 * The node interface: the part of rclnodejs the stack uses, with the same method names and
 * argument order, so node code is identical on the in-process runtime and on rclnodejs.
 *
 * Differences from raw rclnodejs, on purpose and on both runtimes:
 * - QoS is a plain object or a profile name (see `qos.ts`), not a `QoS` instance.
 * - Parameters are declared as `declareParameter(name, type, default, descriptor)` and read as plain
 *   values (integers as `number`, not BigInt).
 * - A service handler returns the response (or a promise of it) instead of calling `response.send`.
 * - Messages are validated against their ROS 2 definition at publish time.
 */
import type { RosTime } from './time.js';
import type { QoSLike } from './qos.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

export interface PubSubOptions {
  /** Profile name ('default', 'sensor_data', 'latched', ...), a depth, or a partial profile. */
  qos?: QoSLike;
}

export interface Publisher<T = Message> {
  readonly topic: string;
  readonly typeName: string;
  publish(message: T): void;
  /** Number of subscriptions currently matched (same process for the in-process runtime). */
  getSubscriptionCount(): number;
}

export type SubscriptionCallback<T = Message> = (message: T) => void | Promise<void>;

export interface Subscription {
  readonly topic: string;
  readonly typeName: string;
}

export type ServiceHandler<Req = Message, Res = Message> = (request: Req) => Res | Promise<Res>;

export interface Service {
  readonly serviceName: string;
  readonly typeName: string;
}

export interface SendRequestOptions {
  /** Milliseconds; rejects with `TimeoutError` when exceeded. */
  timeout?: number;
  signal?: AbortSignal;
}

export interface Client<Req = Message, Res = Message> {
  readonly serviceName: string;
  readonly typeName: string;
  isServiceServerAvailable(): boolean;
  /** Resolves true once a server exists, false after `timeoutMs` (wait forever if omitted or < 0). */
  waitForService(timeoutMs?: number): Promise<boolean>;
  sendRequestAsync(request: Req, options?: SendRequestOptions): Promise<Res>;
}

export type TimerCallback = () => void | Promise<void>;

export interface Timer {
  readonly periodNs: bigint;
  cancel(): void;
  reset(): void;
  isCanceled(): boolean;
}

export type ParameterTypeName =
  | 'bool'
  | 'integer'
  | 'double'
  | 'string'
  | 'byte_array'
  | 'bool_array'
  | 'integer_array'
  | 'double_array'
  | 'string_array';

export type ParameterValue = boolean | number | string | boolean[] | number[] | string[];

export interface ParameterDescriptor {
  description?: string;
  readOnly?: boolean;
  /** Inclusive numeric range for integer/double parameters. */
  range?: { from: number; to: number; step?: number };
}

export interface Parameter {
  name: string;
  type: ParameterTypeName;
  value: ParameterValue;
}

export interface SetParametersResult {
  successful: boolean;
  reason: string;
}

/** Veto or accept a change before it is applied (rclnodejs `addOnSetParametersCallback`). */
export type OnSetParametersCallback = (parameters: Parameter[]) => SetParametersResult;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  fatal(message: string): void;
}

export interface RosNode {
  name(): string;
  namespace(): string;
  /** `/ns/name` */
  getFullyQualifiedName(): string;

  createPublisher<T = Message>(typeName: string, topic: string, options?: PubSubOptions): Publisher<T>;
  createSubscription<T = Message>(
    typeName: string,
    topic: string,
    options: PubSubOptions,
    callback: SubscriptionCallback<T>,
  ): Subscription;
  createService<Req = Message, Res = Message>(
    typeName: string,
    serviceName: string,
    handler: ServiceHandler<Req, Res>,
  ): Service;
  createClient<Req = Message, Res = Message>(typeName: string, serviceName: string): Client<Req, Res>;
  createTimer(periodNs: bigint, callback: TimerCallback): Timer;

  /** Declares a parameter; a launch/command-line override replaces `defaultValue`. Returns the value in effect. */
  declareParameter<V extends ParameterValue = ParameterValue>(
    name: string,
    type: ParameterTypeName,
    defaultValue: V,
    descriptor?: ParameterDescriptor,
  ): V;
  hasParameter(name: string): boolean;
  getParameter<V extends ParameterValue = ParameterValue>(name: string): V;
  setParameters(parameters: Array<{ name: string; value: ParameterValue }>): SetParametersResult[];
  addOnSetParametersCallback(callback: OnSetParametersCallback): void;
  removeOnSetParametersCallback(callback: OnSetParametersCallback): void;

  getLogger(): Logger;
  /** Node clock: ROS time from `/clock` when `use_sim_time` is true, else system time. */
  now(): RosTime;

  /** Name after namespace expansion and remapping ('topic' or 'service'). */
  resolveName(name: string): string;
  destroy(): void;
}

export interface NodeOptions {
  namespace?: string;
  /** Values that replace declared defaults (launch `param`, `-p name:=value`). */
  parameterOverrides?: Record<string, ParameterValue>;
  /** Remapping rules `from → to` (launch `remap`, `-r from:=to`). */
  remaps?: Array<[string, string]>;
}

export type RuntimeKind = 'inprocess' | 'rclnodejs';

export interface Runtime {
  readonly kind: RuntimeKind;
  createNode(name: string, options?: NodeOptions): RosNode;
  /** Destroys every node; pending timers and deliveries stop. */
  shutdown(): Promise<void>;
  readonly isShutdown: boolean;
}
