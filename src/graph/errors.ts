/** Errors raised by the node runtime and the launcher; each message says what to fix. */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

/** A message that would not serialize as its declared ROS 2 type. */
export class MessageValidationError extends GraphError {
  constructor(
    readonly topic: string,
    readonly type: string,
    readonly fieldPath: string,
    readonly problem: string,
  ) {
    super(`invalid ${type} on ${topic}: ${fieldPath || '(message)'} ${problem}`);
    this.name = 'MessageValidationError';
  }
}

/** `sendRequestAsync` got no response in time (same name as rclnodejs's TimeoutError). */
export class TimeoutError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** A launch file, argument or substitution problem. */
export class LaunchError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}
