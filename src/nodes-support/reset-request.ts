/**
 * The `gmps_msgs/srv/ResetEpisode` request and the task it asks for, shared by the robot-facing nodes (the
 * simulator and the real Sawyer): the same checks answer the same request on both.
 */
import { checkDoorTask } from '../../sim/door.js';
import { checkPushTask } from '../../sim/push.js';
import type { SawyerTaskKind, TaskParams } from '../../sim/types.js';

export interface ResetRequest {
  task: string;
  target_rad: number;
  goal_x: number;
  goal_y: number;
}

/** The task of a reset request for the node's task kind; throws a clear error for another kind or an out-of-range parameter. */
export function taskFromRequest(kind: SawyerTaskKind, req: ResetRequest): TaskParams {
  const asked = (req.task ?? '').trim();
  if (asked && asked !== kind) {
    throw new Error(`this robot runs the '${kind}' task; it cannot reset to '${asked}' (restart it with task:=${asked})`);
  }
  const task: TaskParams = kind === 'door' ? { kind: 'door', targetRad: req.target_rad } : { kind: 'push', goal: [req.goal_x, req.goal_y] };
  if (task.kind === 'door') checkDoorTask(task);
  else checkPushTask(task);
  return task;
}
