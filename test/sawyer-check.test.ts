import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runSawyerCheck } from '../src/cli/commands/sawyer.js';
import { freePort } from './fixtures/ros1/roscore.js';
import { rosMissing, startSimSawyerRig, type SimSawyerRig } from './fixtures/ros1/sim-sawyer-rig.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

describe('gmps sawyer check', function () {
  this.timeout(40_000);
  let rig: SimSawyerRig | undefined;
  afterEach(async () => {
    await rig?.stop();
    rig = undefined;
  });

  it('moves the simulated arm 5 cm in +x and back within tolerance, and reports the rates', async function () {
    if (rosMissing()) this.skip();
    rig = await startSimSawyerRig();
    const sim = rig.sim;
    const tip0 = sim.tip();
    let maxX = -Infinity;
    const sampler = setInterval(() => (maxX = Math.max(maxX, sim.tip()[0]!)), 10);
    let r;
    try {
      r = await runSawyerCheck({ masterUri: rig.master.uri, hostname: '127.0.0.1', distanceM: 0.05, toleranceM: 0.01 });
    } finally {
      clearInterval(sampler);
    }
    assert.equal(r.connected, true);
    assert.equal(r.reached, true, JSON.stringify(r));
    assert.ok(r.maxErrorM < 0.01, `maxErrorM ${r.maxErrorM}`);
    assert.ok(r.jointStateHz > 50 && r.jointStateHz <= 120, `jointStateHz ${r.jointStateHz}`);
    assert.ok(r.commandHz > 20, `commandHz ${r.commandHz} (Intera needs > 5 Hz)`);
    // What the simulated robot itself did (MuJoCo tip, not our FK): out about 5 cm, then back.
    const out = maxX - tip0[0]!;
    assert.ok(out > 0.04 && out < 0.06, `the MuJoCo tip went ${out.toFixed(4)} m in +x`);
    const back = sim.tip();
    assert.ok(Math.hypot(back[0]! - tip0[0]!, back[1]! - tip0[1]!, back[2]! - tip0[2]!) < 0.01, 'and came back');
    assert.ok(Math.abs(r.outTip[0]! - r.startTip[0]! - 0.05) < 0.01);
    assert.ok(sim.commands.length > 50 && sim.commands.every((c) => c.accepted && c.msg.mode === 1));
  });

  it('refuses to move a disabled robot, saying how to enable it; --enable enables it', async function () {
    if (rosMissing()) this.skip();
    rig = await startSimSawyerRig({ enabled: false });
    await assert.rejects(runSawyerCheck({ masterUri: rig.master.uri, rateWindowMs: 200 }), /disabled: enable it \(--enable/);
    assert.equal(rig.sim.commands.length, 0);
    const r = await runSawyerCheck({ masterUri: rig.master.uri, rateWindowMs: 300, enable: true, distanceM: 0.02 });
    assert.deepEqual(rig.sim.enableRequests, [true]);
    assert.equal(r.reached, true, JSON.stringify(r));
  });

  it('CLI: --json prints one line with the results', async function () {
    if (rosMissing()) this.skip();
    rig = await startSimSawyerRig();
    const { stdout } = await run('node', [...CLI, 'sawyer', 'check', '--master', rig.master.uri, '--hostname', '127.0.0.1', '--json'], { timeout: 30_000 });
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const r = JSON.parse(lines[0]!);
    for (const k of ['connected', 'jointStateHz', 'commandHz', 'reached', 'maxErrorM']) assert.ok(k in r, `has ${k}`);
    assert.equal(r.connected, true);
    assert.equal(r.reached, true);
  });

  it('CLI: an unreachable master fails with what to check', async () => {
    const port = await freePort();
    const err = await run('node', [...CLI, 'sawyer', 'check', '--master', `http://127.0.0.1:${port}/`, '--json'], { timeout: 30_000 }).then(
      () => assert.fail('the check should fail'),
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    assert.equal(err.code, 2);
    assert.equal(err.stdout, '');
    assert.match(err.stderr, /cannot reach the ROS master at http:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\)/);
    for (const hint of ['ROS_MASTER_URI', 'ROS_IP', 'SDK mode', 'enabled']) assert.ok(err.stderr.includes(hint), `mentions ${hint}`);
  });
});
