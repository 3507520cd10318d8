/**
 * TypeScript shapes of the messages the stack uses, as both runtimes deliver them
 * (rclnodejs default mode with typed arrays): numeric arrays arrive as typed arrays
 * (`float64[]` → Float64Array, `uint8[]` → Uint8Array, ...), `string[]` as string[],
 * time as `{sec, nanosec}`. When publishing, a plain number[] is accepted wherever a
 * typed array is delivered.
 */
import type { TimeMsg } from './time.js';

export type { TimeMsg };
export type NumberArray = number[] | Float64Array | Float32Array;
export type ByteArray = number[] | Uint8Array;

export interface Header {
  stamp: TimeMsg;
  frame_id: string;
}

export interface JointState {
  header: Header;
  name: string[];
  position: NumberArray;
  velocity: NumberArray;
  effort: NumberArray;
}

export interface Image {
  header: Header;
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  step: number;
  data: ByteArray;
}

export interface Float64 {
  data: number;
}

export interface StringMsg {
  data: string;
}

export interface Clock {
  clock: TimeMsg;
}

export interface Vector3 {
  x: number;
  y: number;
  z: number;
}

export interface Twist {
  linear: Vector3;
  angular: Vector3;
}

export interface TwistStamped {
  header: Header;
  twist: Twist;
}

/** `std_srvs/srv/Trigger` */
export interface TriggerResponse {
  success: boolean;
  message: string;
}
