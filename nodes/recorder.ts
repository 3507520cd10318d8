/**
 * Demonstration recorder node: records the graph's topics (camera image, joint_states, hand_pose, cmd_ee, task
 * state) into one rosbag2-compatible MCAP file per episode (`<output_dir>/<prefix>_NNNN.mcap`), driven by the
 * operator's episode events on `teleop/episode` (gmps_msgs/EpisodeEvent):
 * - SAVE finalizes the file with the result metadata (success, note), then the next episode starts;
 * - DISCARD deletes the file and records the episode again;
 * - STOP finalizes the file and ends the node (also after `num_episodes` saved episodes).
 * With `hardware: sim` each episode starts with the simulator's reset service (a new task from `target_deg` /
 * `targets_deg`); on the real arm a reset phase of up to `reset_time_s` lets the operator reset the rig (→ ends
 * it early). Every file opens with the latest state of each state topic and the task in its `gmps.episode`
 * metadata. A killed recorder leaves its file readable up to the last written chunk (`chunk_kib`).
 * The phase is published latched on `recorder/status` (gmps_msgs/RecorderStatus) for prompts.
 */
import { mkdirSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { episodeMetadata } from '../src/data/demonstrations.js';
import { McapRecorder, type RecorderTopic } from '../src/data/mcap-writer.js';
import { registerRos2MessageText } from '../src/data/ros2-types.js';
import { defineNode, runIfMain, type RosNode } from '../src/graph/index.js';
import { packageRoot } from '../src/graph/paths.js';
import { RosTime, type TimeMsg } from '../src/graph/time.js';
import { describeTask } from '../sim/index.js';
import {
  DEFAULT_RECORDED_TOPICS,
  episodeFileName,
  judgeSuccess,
  nextEpisodeIndex,
  parseTopicSpec,
  taskForEpisode,
  type RecordedTopicSpec,
} from '../src/teleop/recording.js';
import type { TaskParams } from '../sim/types.js';

const EVENT = { SAVE: 1, DISCARD: 2, STOP: 3 } as const;
const OUTCOME = { UNKNOWN: 0, SUCCESS: 1, FAILURE: 2 } as const;

interface EpisodeEventMsg {
  header: { stamp: TimeMsg };
  event: number;
  outcome: number;
  note: string;
}

type Phase = 'starting' | 'recording' | 'finishing' | 'closing' | 'resetting' | 'stopped';

/** Our own message packages, so the MCAP schemas of e.g. gmps_msgs/msg/TaskParams are known. */
function registerPackageMessages(): void {
  const dir = join(packageRoot(), 'msg');
  if (!existsSync(dir)) return;
  for (const pkg of readdirSync(dir, { withFileTypes: true })) {
    const sub = join(dir, pkg.name, 'msg');
    if (!pkg.isDirectory() || !existsSync(sub)) continue;
    for (const f of readdirSync(sub).filter((x) => x.endsWith('.msg'))) {
      registerRos2MessageText(`${pkg.name}/msg/${basename(f, '.msg')}`, readFileSync(join(sub, f), 'utf8'));
    }
  }
}

function declare(ros: RosNode) {
  const hardware = ros.declareParameter('hardware', 'string', 'sim', { description: 'sim (reset through the simulator service) or sawyer (operator resets the rig)', readOnly: true });
  if (hardware !== 'sim' && hardware !== 'sawyer') throw new Error(`parameter hardware must be sim or sawyer, got '${hardware}'`);
  const task = ros.declareParameter('task', 'string', 'door', { description: 'Task of the demonstrations: door or push', readOnly: true });
  if (task !== 'door' && task !== 'push') throw new Error(`parameter task must be door or push, got '${task}'`);
  return {
    outputDir: ros.declareParameter('output_dir', 'string', 'demos', { description: 'Folder of the episode files (created if missing)', readOnly: true }),
    prefix: ros.declareParameter('file_prefix', 'string', 'episode', { description: 'Episode files are <prefix>_NNNN.mcap', readOnly: true }),
    topics: ros.declareParameter('topics', 'string_array', DEFAULT_RECORDED_TOPICS, {
      description: "Recorded topics: a known name, or 'name:pkg/msg/Type[@sensor_data|@latched]'",
      readOnly: true,
    }),
    hardware: hardware as 'sim' | 'sawyer',
    task: task as 'door' | 'push',
    resetService: ros.declareParameter('reset_service', 'string', '/sim/reset_episode', { description: 'hardware sim: the simulator reset service (gmps_msgs/ResetEpisode)', readOnly: true }),
    targetDeg: ros.declareParameter('target_deg', 'double', 30.0, { description: 'Door target angle (deg) of every episode', range: { from: 0, to: 60 } }),
    targetsDeg: ros.declareParameter('targets_deg', 'double_array', [] as number[], { description: 'Door target angles (deg) cycled through episode by episode; empty = target_deg' }),
    goal: ros.declareParameter('goal', 'double_array', [0.65, 0], { description: 'Push goal [x, y] (m, base frame)' }),
    numEpisodes: ros.declareParameter('num_episodes', 'integer', 0, { description: 'Stop after this many saved episodes (0 = until STOP)', range: { from: 0, to: 1000000 } }),
    episodeTimeS: ros.declareParameter('episode_time_s', 'double', 0.0, { description: 'Save an episode automatically after this long (s, node clock; 0 = only on SAVE)', range: { from: 0, to: 86400 } }),
    resetTimeS: ros.declareParameter('reset_time_s', 'double', 60.0, { description: 'hardware sawyer: longest reset phase between episodes (s); SAVE ends it early', range: { from: 0, to: 86400 } }),
    operator: ros.declareParameter('operator', 'string', '', { description: 'Operator name stored with each episode' }),
    note: ros.declareParameter('note', 'string', '', { description: 'Note stored with each episode (the event note is added)' }),
    chunkKib: ros.declareParameter('chunk_kib', 'integer', 256, { description: 'MCAP chunk size (KiB): at most this much is lost if the recorder is killed', readOnly: true, range: { from: 4, to: 65536 } }),
    tailMs: ros.declareParameter('tail_ms', 'double', 100.0, {
      description: 'After SAVE/STOP, keep recording state topics (not commands) this long (ms, wall clock) so the file holds the result of the last command',
      range: { from: 0, to: 10000 },
    }),
    stateWaitMs: ros.declareParameter('state_wait_ms', 'double', 3000.0, { description: 'How long to wait for the first state after a reset (ms, wall clock)', range: { from: 0, to: 60000 } }),
  };
}

const node = defineNode({
  name: 'recorder',
  description: 'Records the graph into one MCAP file per demonstration episode (save / discard / stop from teleop/episode)',
  async create(ros, ctx) {
    const p = declare(ros);
    const log = ros.getLogger();
    registerPackageMessages();
    const specs: RecordedTopicSpec[] = p.topics.map(parseTopicSpec);
    const outDir = resolve(p.outputDir);
    mkdirSync(outDir, { recursive: true });
    const topics = specs.map((s) => ({ ...s, resolved: ros.resolveName(s.name) }));
    const byResolved = new Set<string>();
    for (const t of topics) {
      if (byResolved.has(t.resolved)) throw new Error(`recorded topic ${t.resolved} is listed twice in parameter topics`);
      byResolved.add(t.resolved);
    }
    const recorderTopics: RecorderTopic[] = topics.map((t) => ({
      topic: t.resolved,
      type: t.type,
      qos: t.qos === 'latched' ? { durability: 'transient_local' } : t.qos === 'sensor_data' ? { reliability: 'best_effort' } : undefined,
    }));

    const statusPub = ros.createPublisher('gmps_msgs/msg/RecorderStatus', 'recorder/status', { qos: 'latched' });
    let phase: Phase = 'starting';
    let rec: McapRecorder | undefined;
    let currentPath = '';
    let episode = 1; // 1-based index of the episode being recorded in this session
    let saved = 0;
    let task: TaskParams = taskForEpisode(p.task, 1, p);
    let commands = 0;
    let episodeStartNs = 0n;
    let writeErrors = 0;
    let sessionTask: TaskParams | undefined; // from task/params when no reset service sets it
    const latest = new Map<string, { message: unknown; stampNs?: bigint }>();
    const doorAngleTopic = ros.resolveName('task/door_angle');
    const blockTopic = ros.resolveName('task/block_position');
    const syncTopic = ros.resolveName('joint_states');
    let syncCount = 0;
    let stateWaiter: (() => void) | undefined;
    const cmdTopic = ros.resolveName('cmd_ee');

    const publishStatus = (): void => {
      statusPub.publish({
        header: { stamp: ros.now().toMsg(), frame_id: '' },
        phase: phase === 'recording' ? 'recording' : phase === 'stopped' ? 'stopped' : 'resetting',
        episode,
        saved,
        target_episodes: p.numEpisodes,
        file: currentPath,
        task: describeTask(task),
      });
    };

    const stampOf = (m: unknown): bigint | undefined => {
      const s = (m as { header?: { stamp?: TimeMsg } }).header?.stamp;
      return s ? RosTime.fromMsg(s).nanoseconds : undefined;
    };
    const write = (topic: string, message: unknown, stampNs?: bigint): void => {
      rec!.write(topic, message, { publishTimeNs: stampNs }).catch((err: Error) => {
        if (writeErrors++ === 0 || writeErrors % 100 === 0) log.error(`recording ${topic} failed (${writeErrors} messages so far): ${err.message}`);
      });
    };

    for (const t of topics) {
      ros.createSubscription(t.type, t.resolved, { qos: t.qos }, (m) => {
        const stampNs = stampOf(m);
        if (t.snapshot) latest.set(t.resolved, { message: m, stampNs });
        if (t.resolved === syncTopic) {
          syncCount++;
          stateWaiter?.();
        }
        if (t.type === 'gmps_msgs/msg/TaskParams') {
          const tp = m as { task: string; target_rad: number; goal_x: number; goal_y: number };
          sessionTask = tp.task === 'door' ? { kind: 'door', targetRad: tp.target_rad } : { kind: 'push', goal: [tp.goal_x, tp.goal_y] };
        }
        if (!rec || (phase !== 'recording' && phase !== 'finishing')) return;
        if (phase === 'finishing' && !t.snapshot) return; // the episode's commands ended with the event
        if (t.resolved === cmdTopic) commands++;
        write(t.resolved, m, stampNs);
      });
    }
    // Task state topics judge success even when they are not recorded.
    if (!byResolved.has(doorAngleTopic) && p.task === 'door') {
      ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', doorAngleTopic, {}, (m) => {
        latest.set(doorAngleTopic, { message: m });
      });
    }

    let stopResolve!: () => void;
    const done = new Promise<void>((r) => (stopResolve = r));
    let resetWaiter: (() => void) | undefined;

    const waitForState = (since: number): Promise<boolean> =>
      new Promise((res) => {
        if (!byResolved.has(syncTopic) || syncCount > since) return res(true);
        const timer = setTimeout(() => {
          stateWaiter = undefined;
          res(false);
        }, p.stateWaitMs);
        stateWaiter = () => {
          if (syncCount <= since) return;
          clearTimeout(timer);
          stateWaiter = undefined;
          res(true);
        };
      });

    const resetClient = p.hardware === 'sim' ? ros.createClient('gmps_msgs/srv/ResetEpisode', p.resetService) : undefined;

    /** Brings the robot to the start of episode `episode` (sim: the reset service; sawyer: the operator). */
    const resetForEpisode = async (): Promise<void> => {
      task = taskForEpisode(p.task, episode, p);
      if (resetClient) {
        if (!(await resetClient.waitForService(10000))) {
          throw new Error(`the simulator reset service ${p.resetService} is not available: start the sim node, or set hardware:=sawyer`);
        }
        const since = syncCount;
        const goal = task.kind === 'push' ? task.goal : [0, 0];
        const r = await resetClient.sendRequestAsync(
          { task: task.kind, target_rad: task.kind === 'door' ? task.targetRad : 0, goal_x: goal[0], goal_y: goal[1] },
          { timeout: 10000 },
        );
        if (!r.success) throw new Error(`the simulator refused the reset to ${describeTask(task)}: ${r.message}`);
        if (!(await waitForState(since))) log.warn(`no ${syncTopic} within ${p.stateWaitMs} ms after the reset; recording anyway`);
      } else {
        publishStatus();
        if (p.resetTimeS > 0) {
          log.info(`reset the rig for episode ${episode}, then press → (or wait ${p.resetTimeS} s)`);
          await new Promise<void>((res) => {
            const timer = setTimeout(res, p.resetTimeS * 1000);
            resetWaiter = () => {
              clearTimeout(timer);
              res();
            };
          });
          resetWaiter = undefined;
        }
        if (sessionTask) task = sessionTask;
      }
    };

    const openEpisode = async (): Promise<void> => {
      const index = nextEpisodeIndex(outDir, p.prefix);
      currentPath = join(outDir, episodeFileName(p.prefix, index));
      const extra: Record<string, string> = { episode: String(episode), hardware: p.hardware, started_at: new Date().toISOString() };
      if (p.operator) extra.operator = p.operator;
      if (p.note) extra.note = p.note;
      rec = await McapRecorder.open({ path: currentPath, topics: recorderTopics, chunkSize: p.chunkKib * 1024, episode: episodeMetadata(task, extra) });
      commands = 0;
      writeErrors = 0;
      // Every file starts from the full current state, so the first command has an observation.
      for (const t of topics) {
        const l = t.snapshot ? latest.get(t.resolved) : undefined;
        if (l) write(t.resolved, l.message, l.stampNs);
      }
      episodeStartNs = ros.now().nanoseconds;
      phase = 'recording';
      log.info(`recording episode ${episode} (${describeTask(task)}) into ${currentPath}`);
      publishStatus();
    };

    /** Closes the current file; keeps it (with its result) or deletes it. */
    const closeEpisode = async (keep: boolean, ev?: EpisodeEventMsg, reason = ''): Promise<void> => {
      const r = rec!;
      rec = undefined;
      phase = 'closing';
      if (!keep) {
        await r.close().catch(() => undefined);
        await unlink(currentPath).catch(() => undefined);
        log.info(`episode ${episode} discarded${reason}; recording it again`);
        return;
      }
      const doorAngle = (latest.get(doorAngleTopic)?.message as { data?: number } | undefined)?.data;
      const bp = (latest.get(blockTopic)?.message as { point?: { x: number; y: number; z: number } } | undefined)?.point;
      let success: boolean | undefined;
      let judgedBy = 'operator';
      if (ev?.outcome === OUTCOME.SUCCESS) success = true;
      else if (ev?.outcome === OUTCOME.FAILURE) success = false;
      else {
        success = judgeSuccess(task, { doorAngle, block: bp ? [bp.x, bp.y, bp.z] : undefined });
        judgedBy = 'task state';
      }
      const result: Record<string, string> = { steps: String(commands), ended_at: new Date().toISOString() };
      if (success !== undefined) {
        result.success = String(success);
        result.success_judged_by = judgedBy;
      }
      if (doorAngle !== undefined) result.final_door_angle_rad = String(doorAngle);
      const note = [ev?.note, reason.trim()].filter(Boolean).join('; ');
      if (note) result.note = note;
      if (commands === 0) {
        await r.close(result).catch(() => undefined);
        await unlink(currentPath).catch(() => undefined);
        log.warn(`episode ${episode} has no ${cmdTopic} command: nothing to save, it is recorded again`);
        return;
      }
      const summary = await r.close(result);
      saved++;
      log.info(
        `episode ${episode} saved: ${summary.path} (${summary.messageCount} messages, ${commands} commands` +
          `${success === undefined ? '' : success ? ', success' : ', not successful'}${summary.dropped ? `, ${summary.dropped} dropped` : ''})`,
      );
      episode++;
    };

    const stop = async (): Promise<void> => {
      phase = 'stopped';
      log.info(`recording stopped: ${saved} episode${saved === 1 ? '' : 's'} saved in ${outDir}`);
      publishStatus();
      stopResolve();
    };

    let failed: Error | undefined;
    let stopRequested = false;
    // Transitions run one at a time; events are judged by the phase at their arrival.
    let chain: Promise<void> = Promise.resolve();
    const run = (what: () => Promise<void>): void => {
      chain = chain.then(what).catch((err: Error) => {
        log.error(`recorder failed: ${err.message}`);
        phase = 'stopped';
        publishStatus();
        failed ??= err;
        stopResolve();
      });
    };
    const nextEpisode = async (): Promise<void> => {
      if (stopRequested || (p.numEpisodes > 0 && saved >= p.numEpisodes)) return stop();
      phase = 'resetting';
      publishStatus();
      await resetForEpisode();
      if (stopRequested) return stop();
      await openEpisode();
    };

    const endEpisode = (kind: 'save' | 'discard' | 'stop', ev?: EpisodeEventMsg, reason = ''): void => {
      if (kind === 'stop') stopRequested = true;
      const keep = kind !== 'discard';
      phase = keep && p.tailMs > 0 ? 'finishing' : 'closing';
      run(async () => {
        if (phase === 'finishing') await new Promise((r) => setTimeout(r, p.tailMs));
        await closeEpisode(kind !== 'discard', ev, reason);
        await nextEpisode();
      });
    };

    ros.createSubscription<EpisodeEventMsg>('gmps_msgs/msg/EpisodeEvent', 'teleop/episode', {}, (ev) => {
      const name = ev.event === EVENT.SAVE ? 'save' : ev.event === EVENT.DISCARD ? 'discard' : ev.event === EVENT.STOP ? 'stop' : undefined;
      if (!name) {
        log.warn(`unknown episode event ${ev.event} ignored (1 save, 2 discard, 3 stop)`);
        return;
      }
      if (phase === 'recording') return endEpisode(name, ev);
      if (name === 'stop') {
        stopRequested = true;
        resetWaiter?.();
        return;
      }
      if (phase === 'resetting' && name === 'save' && resetWaiter) return resetWaiter();
      log.info(`${name} ignored: no episode is being recorded (${phase})`);
    });

    if (p.episodeTimeS > 0) {
      ros.createTimer(100_000_000n, () => {
        if (phase === 'recording' && Number(ros.now().nanoseconds - episodeStartNs) / 1e9 >= p.episodeTimeS) {
          endEpisode('save', undefined, `episode time limit ${p.episodeTimeS} s`);
        }
      });
    }

    run(async () => {
      await resetForEpisode();
      await openEpisode();
    });

    // The abort signal and shutdown() both finish the node; the second call must wait for the
    // same close, or shutdown() returns before the interrupted file has its summary and footer.
    let finishing: Promise<void> | undefined;
    const finish = (): Promise<void> => (finishing ??= finishOnce());
    const finishOnce = async (): Promise<void> => {
      stopRequested = true;
      resetWaiter?.();
      await chain;
      if (rec) {
        // Shut down mid-episode: keep what was recorded, marked as interrupted.
        const r = rec;
        rec = undefined;
        phase = 'stopped';
        const summary = await r.close({ steps: String(commands), note: 'interrupted: the recorder was shut down mid-episode' });
        log.warn(`episode ${episode} interrupted; kept ${summary.path} (${commands} commands)`);
      }
    };
    ctx.signal.addEventListener('abort', () => void finish(), { once: true });
    return {
      done: done.then(async () => {
        await chain;
        if (failed) throw failed;
      }),
      shutdown: finish,
    };
  },
});

export default node;
await runIfMain(import.meta.url, node);
