/**
 * Cartesian controller node: `cmd_ee` (geometry_msgs/TwistStamped; twist.linear = tip displacement command in
 * [-1, 1]^3, `step_m` metres per unit per control step, the convention of the teleop and the policy) →
 * IK + safety envelope → `joint_command` (sensor_msgs/JointState positions, rad). A watchdog emits one hold
 * command when `cmd_ee` stops for `command_timeout_s` (node clock: sim time under use_sim_time); `estop`
 * (std_msgs/Bool, true) latches a stop until the `~/reset_estop` service (std_srvs/Trigger) is called.
 */
import { defineNode, runIfMain } from '../src/graph/index.js';
import { hzToPeriodNs } from '../src/graph/time.js';
import type { JointState, TwistStamped } from '../src/graph/msgs.js';
import { CommandGate } from '../src/nodes-support/command-gate.js';
import { jointCommandMessage } from '../src/nodes-support/joint-command.js';
import { CartesianController } from '../src/robot/cartesian.js';
import { JOINT_NAMES } from '../src/robot/sawyer-model.js';
import { SafetyEnvelope } from '../src/robot/safety.js';

const node = defineNode({
  name: 'controller',
  description: 'cmd_ee (TwistStamped displacement) → joint_command through IK and the safety envelope; watchdog and e-stop',
  create(ros) {
    const stepM = ros.declareParameter('step_m', 'double', 0.01, {
      description: 'Tip displacement (m) per unit of cmd_ee per control step',
      readOnly: true,
      range: { from: 0.001, to: 0.02 },
    });
    const timeoutS = ros.declareParameter('command_timeout_s', 'double', 0.5, {
      description: 'Watchdog: hold the arm when cmd_ee stops for longer than this (s, node clock)',
      range: { from: 0.01, to: 60 },
    });
    const watchdogHz = ros.declareParameter('watchdog_rate_hz', 'double', 20.0, {
      description: 'Rate of the watchdog check (Hz, node clock)',
      readOnly: true,
      range: { from: 1, to: 1000 },
    });
    const resyncRad = ros.declareParameter('resync_threshold_rad', 'double', 0.2, {
      description: 'Restart from the measured joints when the arm is farther than this from the target (rad), e.g. after an episode reset',
      range: { from: 0.01, to: 3.14 },
    });
    const log = ros.getLogger();
    const gate = new CommandGate(new CartesianController(new SafetyEnvelope(), stepM), {
      timeoutNs: BigInt(Math.round(timeoutS * 1e9)),
      resyncRad,
    });
    const pub = ros.createPublisher('sensor_msgs/msg/JointState', 'joint_command');
    const send = (q: Float64Array): void => pub.publish(jointCommandMessage(q, ros.now().toMsg()));

    ros.createSubscription<JointState>('sensor_msgs/msg/JointState', 'joint_states', {}, (js) => {
      const q = new Float64Array(JOINT_NAMES.length);
      for (let i = 0; i < q.length; i++) {
        const k = js.name.length ? js.name.indexOf(JOINT_NAMES[i]!) : i;
        if (k < 0 || k >= js.position.length) return; // a state of other joints (e.g. the gripper alone)
        q[i] = js.position[k]!;
      }
      if (gate.onJointState(q)) log.info('controller (re)started from the measured joint state');
    });

    let lastRefusal = '';
    ros.createSubscription<TwistStamped>('geometry_msgs/msg/TwistStamped', 'cmd_ee', {}, (m) => {
      const l = m.twist.linear;
      const r = gate.onCommand([l.x, l.y, l.z], ros.now().nanoseconds);
      if (r.kind === 'refused') {
        // one error per distinct reason, so a stream of bad commands does not flood the log
        if (r.reason !== lastRefusal) log.error(`cmd_ee refused, the arm holds: ${r.reason}`);
        lastRefusal = r.reason;
        return;
      }
      lastRefusal = '';
      if (r.clipped.length) log.debug(`cmd_ee clipped: ${r.clipped.join(', ')}`);
      send(r.q);
    });

    ros.createSubscription<{ data: boolean }>('std_msgs/msg/Bool', 'estop', {}, (m) => {
      if (!m.data || gate.state === 'estopped') return;
      send(gate.estop());
      log.error('E-STOP: the arm holds; commands are refused until ~/reset_estop is called');
    });
    ros.createService<Record<string, never>, { success: boolean; message: string }>('std_srvs/srv/Trigger', '~/reset_estop', () => {
      const was = gate.state === 'estopped';
      const message = gate.resetEstop();
      if (was) log.warn(message);
      return { success: was, message };
    });

    ros.createTimer(hzToPeriodNs(watchdogHz), () => {
      const hold = gate.tick(ros.now().nanoseconds);
      if (!hold) return;
      send(hold);
      log.warn(`watchdog: no cmd_ee for more than ${timeoutS} s; holding the arm`);
    });
  },
});

export default node;
await runIfMain(import.meta.url, node);
