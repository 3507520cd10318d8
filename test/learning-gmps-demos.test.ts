import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { episodeMetadata, McapDemonstrationSource } from '../src/data/demonstrations.js';
import { McapRecorder } from '../src/data/mcap-writer.js';
import { planLaunch } from '../src/graph/launch/plan.js';
import { runLaunchPlan } from '../src/graph/launch/run.js';
import { initBackend } from '../src/learning/backend.js';
import { disposeLoaded, loadCheckpoint } from '../src/learning/meta-train.js';
import { toTaskDemos } from '../src/learning/trajectory.js';
import { quietRuntime, type Logged } from './helpers/nodes-graph.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const COMMON = ['--workers', '0', '--backend', 'wasm', '--json'];
const TINY = ['--held-out', '1', '--rollouts', '2', '--iterations', '1', '--adam-steps', '2', '--eval-every', '0', '--envs', '2'];
const STEPS = 10;
const TARGET_DEG = 25;

type CliFailure = { code: number; stderr: string };
const failsWith = (re: RegExp) => (err: CliFailure) => {
  assert.equal(err.code, 2, `exit code 2 (user error), stderr: ${err.stderr}`);
  assert.match(err.stderr, re);
  return true;
};

/** Scripted-expert teleop + sim + controller + recorder: `n` short door episodes into `dir`. */
async function recordEpisodes(dir: string, n: number): Promise<string[]> {
  const logs: Logged[] = [];
  const launch = await runLaunchPlan(
    planLaunch(resolve('launch/teleop.launch.yaml'), {
      args: { device: 'scripted', num_episodes: String(n), episode_steps: String(STEPS), output_dir: dir, target_deg: `${TARGET_DEG}.0` },
    }),
    { runtime: quietRuntime(logs), log: () => {} },
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([launch.finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('recording did not finish')), 40000)))]);
  } finally {
    clearTimeout(timer);
    await launch.stop();
  }
  assert.deepEqual(logs.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
  return readdirSync(dir).filter((f) => f.endsWith('.mcap')).sort().map((f) => join(dir, f));
}

describe('gmps meta-train --demos DIR (recorded MCAP demonstrations)', function () {
  this.timeout(120_000);
  let root: string;
  let demoDir: string;
  let files: string[];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'gmps-demos-mt-'));
    demoDir = join(root, 'episodes');
    mkdirSync(demoDir);
    files = await recordEpisodes(demoDir, 2);
    assert.equal(files.length, 2);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('meta-trains the vision policy on the recorded episodes: their task, D* = their frames and commands', async () => {
    const out = join(root, 'ck');
    const mt = await run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--demos', demoDir, '--out', out, ...TINY, ...COMMON]);
    const summary = JSON.parse(mt.stdout.trim());
    assert.equal(summary.iterations, 1);
    assert.deepEqual(summary.demoFiles, files);
    const task = { kind: 'door', targetRad: (TARGET_DEG * Math.PI) / 180 };
    assert.deepEqual(summary.demoTasks, [task], 'the training tasks are the episodes\' task');
    assert.equal(summary.expertSamples, 2 * STEPS, 'D* holds the recorded steps, no expert rollouts');

    await initBackend({ backend: 'wasm', log: null });
    const ck = await loadCheckpoint(out);
    try {
      assert.deepEqual(ck.state.tasks, [task]);
      assert.equal(ck.state.config.numTasks, 1);
      assert.equal(ck.state.config.obsMode, 'vision');
      const source = await McapDemonstrationSource.load(files);
      const expected = toTaskDemos(source.demos(source.tasks()[0]!), 'vision');
      assert.equal(ck.demos.length, 1);
      assert.deepEqual(ck.demos[0]!.actions, expected.actions, 'D* actions are the recorded cmd_ee commands');
      assert.deepEqual(ck.demos[0]!.obs, expected.obs, 'D* observations are the recorded frames + hand poses');
    } finally {
      disposeLoaded(ck);
    }
    const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    assert.equal(json.gmps.extra.trainState.iterations[0].demoRows, 2 * STEPS);
  });

  it('gmps data demos: one line per episode and, per task, the number of demos and their steps', async () => {
    const { stdout } = await run('node', [...CLI, 'data', 'demos', ...files, '--json']);
    const summary = JSON.parse(stdout.trim());
    assert.deepEqual(summary.episodes.map((e: { path: string; steps: number; images: boolean }) => [e.path, e.steps, e.images]), files.map((f) => [f, STEPS, true]));
    const key = summary.episodes[0].task;
    assert.deepEqual(summary.tasks, [{ task: key, demos: 2, steps: 2 * STEPS }]);
  });

  it('a single .mcap file works too; --expert demos takes the path from --demos', async () => {
    const out = join(root, 'ck1');
    const mt = await run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--expert', 'demos', '--demos', files[0]!, '--out', out, ...TINY, ...COMMON]);
    const summary = JSON.parse(mt.stdout.trim());
    assert.deepEqual(summary.demoFiles, [files[0]]);
    assert.equal(summary.expertSamples, STEPS);
  });

  it('says what to fix: empty directory, hand-only states for a state policy, episodes without images, wrong task', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await assert.rejects(run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--demos', empty, ...COMMON]), failsWith(/holds no \.mcap episodes/));
    await assert.rejects(run('node', [...CLI, 'meta-train', '--task', 'door', '--demos', demoDir, ...COMMON]), failsWith(/3-d state observations, the env and the state policy use 6.*--policy vision/));
    await assert.rejects(run('node', [...CLI, 'meta-train', '--task', 'push', '--policy', 'vision', '--demos', demoDir, ...COMMON]), failsWith(/'door' demonstrations; meta-train them with --task door/));
    await assert.rejects(run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--demos', join(root, 'missing'), ...COMMON]), failsWith(/no such file or directory/));

    const noImages = join(root, 'no-images');
    mkdirSync(noImages);
    const path = join(noImages, 'ep.mcap');
    let ns = 1_000_000_000_000n;
    const rec = await McapRecorder.open({
      path,
      clockNs: () => (ns += 10_000_000n),
      topics: [{ topic: '/hand_pose', type: 'geometry_msgs/msg/PoseStamped' }, { topic: '/cmd_ee', type: 'geometry_msgs/msg/TwistStamped' }],
      episode: episodeMetadata({ kind: 'door', targetRad: 0.4 }),
    });
    const stamp = { sec: 0, nanosec: 0 };
    for (let k = 0; k < 3; k++) {
      await rec.write('/hand_pose', { header: { stamp, frame_id: 'base' }, pose: { position: { x: 0.5, y: 0.1, z: 0.2 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } });
      await rec.write('/cmd_ee', { header: { stamp, frame_id: 'base' }, twist: { linear: { x: 0.5, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } } });
    }
    await rec.close();
    await assert.rejects(
      run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--demos', noImages, ...COMMON]),
      failsWith(new RegExp(`demonstration ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no camera images`)),
    );
  });
});
