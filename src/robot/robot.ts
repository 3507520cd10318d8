/**
 * The Robot seam (as LeRobot's): the simulator and the Sawyer link both implement it.
 * `sendAction` returns the action actually sent, after the safety envelope.
 */
export interface JointPositions {
  names: readonly string[];
  position: Float64Array;
}

export interface RobotObservation {
  joints: JointPositions;
  /** Hand position in the base frame, metres. */
  hand: Float64Array;
  /** Gripper opening, metres (0 closed .. 0.041667 open). */
  gripper: number;
  /** Seconds since connect, robot or sim clock. */
  stamp: number;
}

export interface Robot {
  readonly isConnected: boolean;
  connect(): Promise<void>;
  getObservation(): Promise<RobotObservation>;
  /** Joint position targets (radians) + optional gripper opening (m); returns what was sent. */
  sendAction(target: JointPositions, gripper?: number): Promise<JointPositions>;
  disconnect(): Promise<void>;
}
