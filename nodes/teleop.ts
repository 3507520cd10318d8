/**
 * Teleoperation node: publishes `cmd_ee` (geometry_msgs/TwistStamped, twist.linear = tip displacement command in
 * [-1, 1]^3, 1 cm per unit per control step at the controller's default) and operator episode events on
 * `teleop/episode` (gmps_msgs/EpisodeEvent: SAVE, DISCARD, STOP), from one of three devices (`device`):
 * - keyboard: this process's terminal in raw mode (w/s a/d r/f move, +/- speed, → save, ← discard, Esc stop,
 *   space gripper). Under `ros2 launch` a node has no terminal: give it one (`launch-prefix: xterm -e`) or run
 *   it on its own with `ros2 run`.
 * - joy: `joy` (sensor_msgs/Joy) from the ROS joy driver.
 * - scripted: the simulated task's scripted expert on the privileged state topics (joint_states,
 *   task/door_angle or task/block_position, task/params); it saves each episode after `episode_steps` commands.
 * Prompts come from the recorder's `recorder/status`: printed, and spoken through espeak-ng when installed.
 * Pacing: a timer at `rate_hz`, or with `lockstep` one command per new `/clock` time (a lock-step simulator).
 */
import { defineNode, runIfMain, type Publisher, type RosNode } from '../src/graph/index.js';
import type { JointState, TwistStamped } from '../src/graph/msgs.js';
import { hzToPeriodNs, RosTime } from '../src/graph/time.js';
import { DEFAULT_JOYSTICK_MAPPING, JoystickTeleop, type JoyLike, type JoystickMapping } from '../src/teleop/joystick.js';
import { KEY_BINDINGS, KeyboardTeleop, type EpisodeKeyEvent } from '../src/teleop/keyboard.js';
import { espeakSpeaker, PROMPTS } from '../src/teleop/prompts.js';
import type { ScriptedExpertMirror } from '../src/teleop/scripted.js';
import { DOOR, PUSH } from '../sim/layout.js';

export const EPISODE_EVENT = { SAVE: 1, DISCARD: 2, STOP: 3 } as const;

interface TaskParamsMsg {
  task: string;
  target_rad: number;
  goal_x: number;
  goal_y: number;
  episode: number;
}

interface RecorderStatusMsg {
  phase: string;
  episode: number;
  saved: number;
  target_episodes: number;
  file: string;
  task: string;
}

type Device = 'keyboard' | 'joy' | 'scripted';

function declare(ros: RosNode) {
  const device = ros.declareParameter('device', 'string', 'keyboard', {
    description: 'Command source: keyboard (this terminal), joy (sensor_msgs/Joy on joy) or scripted (the sim task expert)',
    readOnly: true,
  });
  if (!['keyboard', 'joy', 'scripted'].includes(device)) {
    throw new Error(`parameter device must be keyboard, joy or scripted, got '${device}'`);
  }
  const ints = (name: string, def: number[], description: string) => ros.declareParameter(name, 'integer_array', def, { description, readOnly: true });
  return {
    device: device as Device,
    rateHz: ros.declareParameter('rate_hz', 'double', 20.0, { description: 'Control rate of cmd_ee (Hz, node clock)', readOnly: true, range: { from: 1, to: 1000 } }),
    lockstep: ros.declareParameter('lockstep', 'bool', false, {
      description: 'Publish one command per new /clock time (a lock-step simulator) instead of on the timer',
      readOnly: true,
    }),
    frameId: ros.declareParameter('frame_id', 'string', 'base', { description: 'frame_id of cmd_ee (the robot base frame)' }),
    speed: ros.declareParameter('speed', 'double', 0.5, { description: 'Keyboard: initial speed scale in (0, 1]', range: { from: 0.05, to: 1 } }),
    initialHoldMs: ros.declareParameter('initial_hold_ms', 'double', 600.0, {
      description: 'Keyboard: how long a first key press moves (ms), bridging the terminal auto-repeat delay',
      range: { from: 10, to: 2000 },
    }),
    repeatHoldMs: ros.declareParameter('repeat_hold_ms', 'double', 150.0, {
      description: 'Keyboard: how long each auto-repeat event keeps moving (ms); motion stops this long after the key is released',
      range: { from: 10, to: 1000 },
    }),
    joyAxes: ints('joy_axes', [...DEFAULT_JOYSTICK_MAPPING.axes], 'Joy: axis indices of x, y, z'),
    joySigns: ints('joy_signs', [...DEFAULT_JOYSTICK_MAPPING.signs], 'Joy: sign (1 or -1) of each of x, y, z'),
    joyDeadZone: ros.declareParameter('joy_dead_zone', 'double', DEFAULT_JOYSTICK_MAPPING.deadZone, { description: 'Joy: dead zone of the axes', range: { from: 0, to: 0.95 } }),
    joyScale: ros.declareParameter('joy_scale', 'double', DEFAULT_JOYSTICK_MAPPING.scale, { description: 'Joy: command at full deflection', range: { from: 0.05, to: 1 } }),
    joyButtons: ints('joy_buttons', Object.values(DEFAULT_JOYSTICK_MAPPING.buttons), 'Joy: button indices of save, discard, stop, gripper (-1 = off)'),
    episodeSteps: ros.declareParameter('episode_steps', 'integer', 0, {
      description: 'Scripted: commands per episode before it saves the episode (0 = the task horizon)',
      readOnly: true,
      range: { from: 0, to: 100000 },
    }),
    gripper: ros.declareParameter('gripper', 'bool', false, { description: 'Publish cmd_gripper (std_msgs/Bool, true = close) when the gripper key toggles', readOnly: true }),
    speak: ros.declareParameter('speak', 'bool', true, { description: 'Speak the prompts with espeak-ng when it is installed' }),
    note: ros.declareParameter('note', 'string', '', { description: 'Operator note sent with every episode event' }),
    waitForRecorder: ros.declareParameter('wait_for_recorder', 'bool', true, {
      description: 'Scripted: command only while recorder/status says an episode is being recorded (false: drive without a recorder)',
      readOnly: true,
    }),
  };
}

const node = defineNode({
  name: 'teleop',
  description: 'keyboard / joystick / scripted expert → cmd_ee (TwistStamped) and episode events (save, discard, stop)',
  async create(ros, ctx) {
    const p = declare(ros);
    const log = ros.getLogger();
    const say = p.speak ? espeakSpeaker() : undefined;
    const prompt = (text: string): void => {
      log.info(text);
      say?.(text);
    };

    const cmdPub = ros.createPublisher<TwistStamped>('geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const eventPub = ros.createPublisher('gmps_msgs/msg/EpisodeEvent', 'teleop/episode');
    const gripperPub: Publisher | undefined = p.gripper ? ros.createPublisher('std_msgs/msg/Bool', 'cmd_gripper', { qos: 'latched' }) : undefined;
    let gripperClosed = false;

    const publishCommand = (l: ArrayLike<number>): void => {
      cmdPub.publish({
        header: { stamp: ros.now().toMsg(), frame_id: p.frameId },
        twist: { linear: { x: l[0]!, y: l[1]!, z: l[2]! }, angular: { x: 0, y: 0, z: 0 } },
      });
    };
    const publishEvent = (event: number): void => {
      eventPub.publish({ header: { stamp: ros.now().toMsg(), frame_id: '' }, event, outcome: 0, note: p.note });
    };

    // Episode phase as the recorder reports it; without a recorder the teleop simply drives.
    let recorderSeen = p.device === 'scripted' && p.waitForRecorder;
    let recording = !recorderSeen;
    let recordingEpisode = 0;
    let onRecordingStarted: (() => void) | undefined;
    ros.createSubscription<RecorderStatusMsg>('gmps_msgs/msg/RecorderStatus', 'recorder/status', { qos: 'latched' }, (s) => {
      const wasRecording = recording;
      const lastEpisode = recordingEpisode;
      recorderSeen = true;
      recording = s.phase === 'recording';
      if (recording && (!wasRecording || s.episode !== lastEpisode)) {
        recordingEpisode = s.episode;
        prompt(PROMPTS.recording(s.episode));
        onRecordingStarted?.();
      } else if (s.phase === 'resetting' && wasRecording) {
        prompt(PROMPTS.reset());
      } else if (s.phase === 'stopped' && wasRecording !== recording) {
        prompt(PROMPTS.stopped(s.saved));
      }
    });

    const handleEvents = (events: EpisodeKeyEvent[]): void => {
      for (const e of events) {
        switch (e) {
          case 'save':
            publishEvent(EPISODE_EVENT.SAVE);
            break;
          case 'discard':
            publishEvent(EPISODE_EVENT.DISCARD);
            break;
          case 'stop':
          case 'interrupt':
            publishEvent(EPISODE_EVENT.STOP);
            break;
          case 'gripper':
            if (!gripperPub) {
              log.warn('no gripper on this setup (parameter gripper is false); space does nothing');
              break;
            }
            gripperClosed = !gripperClosed;
            gripperPub.publish({ data: gripperClosed });
            log.info(`gripper ${gripperClosed ? 'closing' : 'opening'}`);
            break;
        }
        if (e === 'interrupt') {
          // Raw mode swallowed the terminal's SIGINT: stop the process the way Ctrl-C normally would.
          setImmediate(() => process.kill(process.pid, 'SIGINT'));
        }
      }
    };

    /**
     * Calls `tick` at the control rate: on the timer, or in lock-step once per new /clock time (the simulator
     * advances one step per command, so a second command at the same time would be a second step). `tick`
     * returns false when it published nothing. The returned function ticks now if this time step is unused.
     */
    const pace = (tick: () => boolean): (() => void) => {
      if (!p.lockstep) {
        ros.createTimer(hzToPeriodNs(p.rateHz), () => void tick());
        return () => {};
      }
      let latest = -1n;
      let acted = -1n;
      const tryTick = (): void => {
        if (latest <= acted) return;
        if (tick()) acted = latest;
      };
      ros.createSubscription<{ clock: { sec: number; nanosec: number } }>('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' }, (m) => {
        const t = RosTime.fromMsg(m.clock).nanoseconds;
        if (t > latest) latest = t;
        tryTick();
      });
      return tryTick;
    };

    let cleanup: (() => void | Promise<void>) | undefined;

    if (p.device === 'keyboard') {
      const kb = new KeyboardTeleop({ speed: p.speed, initialHoldMs: p.initialHoldMs, repeatHoldMs: p.repeatHoldMs });
      const stdin = process.stdin;
      if (!stdin.isTTY) {
        throw new Error(
          'device:=keyboard needs a terminal, but stdin is not one: run the teleop node in its own terminal ' +
            '(ros2 run, or launch-prefix "xterm -e"), or use device:=joy',
        );
      }
      stdin.setRawMode(true);
      stdin.resume();
      const onData = (chunk: Buffer): void => {
        const before = kb.speed;
        handleEvents(kb.feed(chunk, performance.now()));
        if (kb.speed !== before) log.info(`speed scale ${kb.speed.toFixed(1)}`);
      };
      stdin.on('data', onData);
      cleanup = () => {
        stdin.off('data', onData);
        if (stdin.isTTY) stdin.setRawMode(false);
        stdin.pause();
      };
      pace(() => {
        const { linear, events } = kb.command(performance.now());
        handleEvents(events);
        publishCommand(linear);
        return true;
      });
      log.info(`keyboard teleop: ${KEY_BINDINGS.map((b) => `${b.key}: ${b.does}`).join('; ')}`);
    } else if (p.device === 'joy') {
      const mapping: JoystickMapping = {
        axes: p.joyAxes as [number, number, number],
        signs: p.joySigns as [number, number, number],
        deadZone: p.joyDeadZone,
        scale: p.joyScale,
        buttons: { save: p.joyButtons[0] ?? -1, discard: p.joyButtons[1] ?? -1, stop: p.joyButtons[2] ?? -1, gripper: p.joyButtons[3] ?? -1 },
      };
      if (p.joyButtons.length !== 4) throw new Error(`parameter joy_buttons needs 4 indices (save, discard, stop, gripper), got ${p.joyButtons.length}`);
      const joy = new JoystickTeleop(mapping, (m) => log.warn(m));
      let latest: [number, number, number] = [0, 0, 0];
      let lastJoyMs = -Infinity;
      ros.createSubscription<JoyLike>('sensor_msgs/msg/Joy', 'joy', {}, (m) => {
        const r = joy.update(m);
        latest = r.linear;
        lastJoyMs = performance.now();
        handleEvents(r.events);
      });
      // The joy driver publishes on change (and at its autorepeat rate): a silent joystick means stop.
      const staleMs = 500;
      pace(() => {
        publishCommand(performance.now() - lastJoyMs > staleMs ? [0, 0, 0] : latest);
        return true;
      });
    } else {
      const { ScriptedExpertMirror } = await import('../src/teleop/scripted.js');
      let mirror: ScriptedExpertMirror | undefined;
      let mirrorKind: string | undefined;
      let pendingTask: TaskParamsMsg | undefined;
      let steps = 0;
      let waiting = false;
      let lastTaskEpisode = -1;
      let horizon = 0;
      let warnedNotReady = false;

      const act = (): boolean => {
        if (waiting || (recorderSeen && !recording) || !mirror?.ready) {
          if (!mirror?.ready && !warnedNotReady && mirror) {
            warnedNotReady = true;
            log.debug('scripted teleop waits for joint_states and the task object state');
          }
          return false;
        }
        publishCommand(mirror.action());
        steps++;
        const limit = p.episodeSteps > 0 ? p.episodeSteps : horizon;
        if (steps >= limit) {
          waiting = true;
          publishEvent(EPISODE_EVENT.SAVE);
        }
        return true;
      };
      let tickNow = (): void => {};
      onRecordingStarted = () => {
        steps = 0;
        waiting = false;
        // A lock-step simulator waits for this node: act on the state it already published.
        tickNow();
      };

      const ensureMirror = async (t: TaskParamsMsg): Promise<void> => {
        const kind = t.task as 'door' | 'push';
        if (kind !== 'door' && kind !== 'push') throw new Error(`scripted teleop: task/params names task '${t.task}'; only door and push have a scripted expert`);
        if (mirrorKind !== kind) {
          mirror?.close();
          mirrorKind = kind;
          mirror = await ScriptedExpertMirror.create(kind);
          horizon = kind === 'door' ? DOOR.horizon : PUSH.horizon;
        }
      };
      let chain = Promise.resolve();
      ros.createSubscription<TaskParamsMsg>('gmps_msgs/msg/TaskParams', 'task/params', { qos: 'latched' }, (t) => {
        pendingTask = t;
        chain = chain.then(async () => {
          await ensureMirror(t);
          mirror!.setTask(t.task === 'door' ? { kind: 'door', targetRad: t.target_rad } : { kind: 'push', goal: [t.goal_x, t.goal_y] });
          if (t.episode !== lastTaskEpisode) {
            lastTaskEpisode = t.episode;
            if (!recorderSeen) {
              // no recorder: a new sim episode is the next episode
              steps = 0;
              waiting = false;
              tickNow();
            }
          }
        });
        return chain;
      });
      ros.createSubscription<JointState>('sensor_msgs/msg/JointState', 'joint_states', {}, (js) => {
        if (mirror && pendingTask) mirror.setJoints(js.name, js.position);
      });
      ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'task/door_angle', {}, (m) => {
        if (mirrorKind === 'door') mirror!.setDoorAngle(m.data);
      });
      ros.createSubscription<{ point: { x: number; y: number; z: number } }>('geometry_msgs/msg/PointStamped', 'task/block_position', {}, (m) => {
        if (mirrorKind === 'push') mirror!.setBlock(m.point.x, m.point.y, m.point.z);
      });
      tickNow = pace(act);
      cleanup = () => mirror?.close();
      log.info(`scripted teleop (the simulated task's expert), ${p.lockstep ? 'one command per /clock step' : `${p.rateHz} Hz`}`);
    }

    // Abort and shutdown() both release; the second call waits for the same cleanup.
    let releasing: Promise<void> | undefined;
    const release = (): Promise<void> =>
      (releasing ??= (async () => {
        const c = cleanup;
        cleanup = undefined;
        await c?.();
      })());
    ctx.signal.addEventListener('abort', () => void release(), { once: true });
    return { shutdown: release };
  },
});

export default node;
await runIfMain(import.meta.url, node);
