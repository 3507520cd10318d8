/** ROS time: integer nanoseconds since the epoch (or since sim start under `use_sim_time`). */
export interface TimeMsg {
  sec: number;
  nanosec: number;
}

const NS_PER_SEC = 1_000_000_000n;

export class RosTime {
  constructor(readonly nanoseconds: bigint) {}

  static fromMsg(msg: TimeMsg): RosTime {
    return new RosTime(BigInt(msg.sec) * NS_PER_SEC + BigInt(msg.nanosec));
  }

  static fromSeconds(seconds: number): RosTime {
    return new RosTime(BigInt(Math.round(seconds * 1e9)));
  }

  /** `builtin_interfaces/msg/Time` shape, e.g. for `header.stamp`. */
  toMsg(): TimeMsg {
    const sec = this.nanoseconds / NS_PER_SEC;
    return { sec: Number(sec), nanosec: Number(this.nanoseconds - sec * NS_PER_SEC) };
  }

  toSeconds(): number {
    return Number(this.nanoseconds) / 1e9;
  }
}

/** Milliseconds between two stamps (b - a). */
export function stampDiffMs(a: TimeMsg, b: TimeMsg): number {
  return (b.sec - a.sec) * 1e3 + (b.nanosec - a.nanosec) / 1e6;
}

/** Period in nanoseconds for a rate in Hz, as `createTimer` wants it. */
export function hzToPeriodNs(hz: number): bigint {
  if (!(hz > 0) || !Number.isFinite(hz)) throw new RangeError(`rate must be a positive number of Hz, got ${hz}`);
  return BigInt(Math.round(1e9 / hz));
}
