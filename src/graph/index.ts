/** The node runtime: one interface (`types.ts`), an in-process implementation and an rclnodejs one. */
export * from './types.js';
export * from './errors.js';
export { QOS_PROFILES, resolveQoS, type QoSProfile, type QoSLike, type QoSProfileName } from './qos.js';
export { RosTime, hzToPeriodNs, stampDiffMs, type TimeMsg } from './time.js';
export { InProcessRuntime, InProcessNode, type InProcessRuntimeOptions } from './inprocess.js';
export { createRuntime, chooseRuntimeKind, type CreateRuntimeOptions } from './runtime.js';
export { MessageRegistry } from './messages/registry.js';
export {
  defineNode,
  runIfMain,
  runNodeMain,
  startNode,
  nodeOptionsFromArgv,
  type NodeContext,
  type NodeDefinition,
  type NodeHandle,
  type RunningNode,
} from './node-entry.js';
