import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { McapDemonstrationSource } from '../src/data/demonstrations.js';
import { McapEpisodeReader } from '../src/data/mcap-reader.js';
import { planLaunch } from '../src/graph/launch/plan.js';
import { runLaunchPlan, type LaunchRun } from '../src/graph/launch/run.js';
import { quietRuntime, record, type Logged } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const FILE = resolve('launch/teleop.launch.yaml');

async function firstMessage(path: string, topic: string): Promise<Msg> {
  const r = await McapEpisodeReader.open(path);
  try {
    for await (const m of r.messages<Msg>({ topics: [topic] })) return m.message;
  } finally {
    await r.close();
  }
  throw new Error(`${path} has no ${topic} message`);
}

describe('nodes: launch/teleop.launch.yaml (demonstration recording)', function () {
  this.timeout(60000);
  let run: LaunchRun | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('plans sim + controller + teleop + recorder; the sawyer node replaces the sim for hardware:=sawyer', () => {
    const plan = planLaunch(FILE, { args: { device: 'scripted' } });
    assert.deepEqual(plan.nodes.map((n) => n.name), ['sim', 'controller', 'teleop', 'recorder']);
    const param = (node: string, name: string) =>
      plan.nodes.find((n) => n.name === node)!.params.find((p) => p.kind === 'value' && p.name === name);
    assert.deepEqual(param('sim', 'lockstep'), { kind: 'value', name: 'lockstep', value: true }, 'the scripted expert runs the sim in lock-step');
    assert.deepEqual(param('teleop', 'use_sim_time'), { kind: 'value', name: 'use_sim_time', value: true });
    const kb = planLaunch(FILE, {});
    assert.deepEqual(kb.nodes.find((n) => n.name === 'sim')!.params.find((p) => p.kind === 'value' && p.name === 'lockstep'),
      { kind: 'value', name: 'lockstep', value: false }, 'people teleoperate on wall-clock time');
    const real = planLaunch(FILE, { args: { hardware: 'sawyer', device: 'joy' } });
    assert.deepEqual(real.nodes.map((n) => n.name), ['sawyer', 'controller', 'teleop', 'recorder']);
    assert.deepEqual(real.nodes.find((n) => n.name === 'recorder')!.params.find((p) => p.kind === 'value' && p.name === 'use_sim_time'),
      { kind: 'value', name: 'use_sim_time', value: false });
    assert.deepEqual(planLaunch(FILE, { args: { device: 'none' } }).nodes.map((n) => n.name), ['sim', 'controller', 'recorder']);
  });

  it('scripted teleop + sim + controller + recorder record episodes that load as GMPS demonstrations with images', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gmps-teleop-e2e-'));
    const logs: Logged[] = [];
    const runtime = quietRuntime(logs);
    const probe = runtime.createNode('probe');
    const params = record<Msg>(probe, 'gmps_msgs/msg/TaskParams', 'task/params', 'latched');
    const steps = 8;
    run = await runLaunchPlan(
      planLaunch(FILE, { args: { device: 'scripted', num_episodes: '2', episode_steps: String(steps), output_dir: dir, target_deg: '25.0' } }),
      { runtime, log: () => {} },
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([run.finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('recording did not finish')), 40000)))]);
    } finally {
      clearTimeout(timer);
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.mcap')).sort();
    assert.deepEqual(files, ['episode_0001.mcap', 'episode_0002.mcap']);
    const paths = files.map((f) => join(dir!, f));

    const source = await McapDemonstrationSource.load(paths);
    assert.equal(source.tasks().length, 1);
    const [task] = source.tasks();
    assert.deepEqual(task, { kind: 'door', targetRad: (25 * Math.PI) / 180 });
    const demos = source.demos(task!);
    assert.equal(demos.length, 2);
    for (const d of demos) {
      assert.equal(d.length, steps);
      assert.deepEqual(d.imageShape, { height: 48, width: 64 });
      assert.equal(d.images!.length, steps * 48 * 64 * 3);
      assert.ok(d.images!.some((v) => v > 0), 'rendered images, not blank');
      // the expert first moves toward the handle: commands are not all zero and within [-1, 1]
      assert.ok(Array.from(d.actions).some((a) => Math.abs(a) > 0.5));
      assert.ok(Array.from(d.actions).every((a) => a >= -1 && a <= 1));
      // the tip follows the commands: the hand moved over the episode
      const h0 = d.hands.subarray(0, 3), h1 = d.hands.subarray((steps - 1) * 3);
      assert.ok(Math.hypot(h1[0]! - h0[0]!, h1[1]! - h0[1]!, h1[2]! - h0[2]!) > 0.02, 'the hand moved');
    }
    // The recorder reset the sim between episodes: both files start from the same start pose.
    const p1 = (await firstMessage(paths[0]!, '/hand_pose')).pose.position;
    const p2 = (await firstMessage(paths[1]!, '/hand_pose')).pose.position;
    assert.ok(Math.hypot(p1.x - p2.x, p1.y - p2.y, p1.z - p2.z) < 1e-3, 'episode 2 starts where episode 1 started');
    assert.ok(params.length >= 2 && params.at(-1)!.episode > params[0]!.episode, 'the sim started new episodes');
    assert.deepEqual(logs.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
  });
});
