/** `gmps sawyer ...`: the real arm over Intera ROS 1 (connection check) and the MuJoCo-backed simulated Sawyer. */
import net from 'node:net';
import type { Command } from 'commander';
import { parseNumber as num } from '../args.js';
import { CliError } from '../errors.js';

export interface SawyerCheckOptions {
  masterUri: string;
  hostname?: string;
  /** Tip displacement along +x and back (m). Default 0.05. */
  distanceM?: number;
  toleranceM?: number;
  /** How long the joint state rate is measured before moving (ms). Default 1000. */
  rateWindowMs?: number;
  connectTimeoutMs?: number;
  enable?: boolean;
  move?: boolean;
}

export interface SawyerCheckResult {
  connected: boolean;
  jointStateHz: number;
  commandHz: number;
  reached: boolean;
  maxErrorM: number;
  distanceM: number;
  toleranceM: number;
  /** Measured tip (FK of the measured joints) at the start, after the move out, after the move back (m). */
  startTip: number[];
  outTip: number[];
  backTip: number[];
  durationS: number;
}

const WHAT_TO_CHECK =
  'check ROS_MASTER_URI (e.g. http://<robot>.local:11311/), that ROS_IP / --hostname is an address of this machine ' +
  'the robot can reach, that the robot is powered on and in SDK mode, and that it is enabled (enable_robot.py -e or --enable)';

function canConnect(uri: string, timeoutMs: number): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return Promise.resolve(`"${uri}" is not a URI`);
  }
  if (url.protocol !== 'http:') return Promise.resolve(`"${uri}" must start with http://`);
  const port = Number(url.port || 11311);
  return new Promise((resolve) => {
    const sock = net.connect({ host: url.hostname, port });
    const done = (problem?: string): void => {
      sock.destroy();
      resolve(problem);
    };
    sock.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    sock.once('connect', () => done());
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function vec(a: ArrayLike<number>): number[] {
  return Array.from(a, (v) => Math.round(v * 1e5) / 1e5);
}

/** Connects, measures the joint state rate, moves the tip +distance in x and back, and reports. */
export async function runSawyerCheck(opts: SawyerCheckOptions): Promise<SawyerCheckResult> {
  const distanceM = opts.distanceM ?? 0.05;
  const toleranceM = opts.toleranceM ?? 0.01;
  if (!(distanceM > 0 && distanceM <= 0.1)) throw new CliError(`--distance-m ${distanceM} must lie in (0, 0.1] m`);
  if (!(toleranceM > 0 && toleranceM <= 0.05)) throw new CliError(`--tolerance-m ${toleranceM} must lie in (0, 0.05] m`);
  const problem = await canConnect(opts.masterUri, 3000);
  if (problem) throw new CliError(`cannot reach the ROS master at ${opts.masterUri} (${problem}): ${WHAT_TO_CHECK}`);

  const { SawyerLink } = await import('../../robot/sawyer/sawyer-link.js');
  const { JointEnvelopeGuard, moveTipTo } = await import('../../robot/sawyer/guarded-motion.js');
  const { CartesianController } = await import('../../robot/cartesian.js');
  const { SafetyEnvelope } = await import('../../robot/safety.js');
  const t0 = Date.now();
  const guard = new JointEnvelopeGuard();
  const link = new SawyerLink({
    masterUri: opts.masterUri,
    hostname: opts.hostname,
    nodeName: '/gmps_sawyer_check',
    validate: guard.validate,
    connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
  });
  try {
    await link.connect();
  } catch (err) {
    throw new CliError(`connected to the master at ${opts.masterUri} but not to the robot: ${(err as Error).message}; ${WHAT_TO_CHECK}`);
  }
  try {
    if (opts.enable) {
      await link.enable(true);
      const deadline = Date.now() + 3000;
      while (!link.status().enabled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, opts.rateWindowMs ?? 1000));
    const jointStateHz = link.status().jointStateHz;
    const st = link.status();
    const obs = await link.getObservation();
    const startTip = guard.tipOf(obs.joints.position);
    const base: SawyerCheckResult = {
      connected: true, jointStateHz, commandHz: 0, reached: false, maxErrorM: NaN, distanceM, toleranceM,
      startTip: vec(startTip), outTip: [], backTip: [], durationS: 0,
    };
    if (opts.move === false) return { ...base, durationS: (Date.now() - t0) / 1000 };
    if (st.estop || st.stopped) throw new CliError('the robot reports e-stop / stopped: release the e-stop, reset the robot and enable it');
    if (!st.enabled) throw new CliError('the robot is disabled: enable it (--enable, or rosrun intera_interface enable_robot.py -e)');

    const controller = new CartesianController(new SafetyEnvelope(guard.config), 0.005);
    controller.reset(obs.joints.position);
    const out = Float64Array.from(startTip);
    out[0] = out[0]! + distanceM;
    const sent0 = link.status().commandsSent;
    const m0 = Date.now();
    let rOut;
    let rBack;
    try {
      rOut = await moveTipTo(link, controller, out, { toleranceM });
      rBack = await moveTipTo(link, controller, startTip, { toleranceM });
    } catch (err) {
      link.hold('check failed');
      throw new CliError(`the check move was refused, the arm holds: ${(err as Error).message}`);
    }
    const commandHz = (link.status().commandsSent - sent0) / ((Date.now() - m0) / 1000);
    link.hold('check done');
    const maxErrorM = Math.max(rOut.errorM, rBack.errorM);
    return {
      ...base,
      commandHz: Math.round(commandHz * 10) / 10,
      reached: rOut.reached && rBack.reached,
      maxErrorM: Math.round(maxErrorM * 1e5) / 1e5,
      outTip: vec(rOut.measuredTip),
      backTip: vec(rBack.measuredTip),
      durationS: (Date.now() - t0) / 1000,
    };
  } finally {
    await link.disconnect();
  }
}

const DEFAULT_MASTER = (): string => process.env.ROS_MASTER_URI ?? 'http://localhost:11311/';
const DEFAULT_HOST = (): string => process.env.ROS_IP ?? process.env.ROS_HOSTNAME ?? '127.0.0.1';

export function registerSawyer(program: Command, _bench: Command): void {
  const sawyer = program.command('sawyer').description('the real Sawyer over Intera ROS 1, and a MuJoCo-backed simulated Sawyer speaking the same interface');

  sawyer.command('check')
    .description('connect to the robot, measure the joint state rate, move the gripper tip +x by --distance-m and back ' +
      'through the Cartesian controller and the safety envelope (THE ARM MOVES; keep the e-stop at hand), and report')
    .option('--master <uri>', 'ROS 1 master of the robot (default: env ROS_MASTER_URI)')
    .option('--hostname <ip>', "this machine's address as the robot reaches it (default: env ROS_IP / ROS_HOSTNAME, else 127.0.0.1)")
    .option('--distance-m <m>', 'tip displacement along +x (m), at most 0.1', '0.05')
    .option('--tolerance-m <m>', 'largest accepted tip error at each end (m)', '0.01')
    .option('--enable', 'enable the arm first (/robot/set_super_enable)')
    .option('--no-move', 'only connect and measure the joint state rate')
    .option('--json', 'print one JSON object')
    .action(async (o: { master?: string; hostname?: string; distanceM: string; toleranceM: string; enable?: boolean; move: boolean; json?: boolean }) => {
      const result = await runSawyerCheck({
        masterUri: o.master ?? DEFAULT_MASTER(),
        hostname: o.hostname ?? DEFAULT_HOST(),
        distanceM: num('--distance-m', o.distanceM),
        toleranceM: num('--tolerance-m', o.toleranceM),
        enable: !!o.enable,
        move: o.move,
      });
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const lines = [
          `connected        ${result.connected}`,
          `joint states     ${result.jointStateHz} Hz`,
          `commands         ${result.commandHz} Hz`,
          `reached          ${result.reached} (max error ${(result.maxErrorM * 1000).toFixed(1)} mm, tolerance ${(result.toleranceM * 1000).toFixed(1)} mm)`,
          `tip start / out / back  [${result.startTip.join(', ')}] / [${result.outTip.join(', ')}] / [${result.backTip.join(', ')}]`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (o.move && !result.reached) process.exitCode = 1;
    });

  sawyer.command('sim')
    .description('run a MuJoCo-backed simulated Sawyer that speaks Intera ROS 1 (joint states, endpoint state, robot state, ' +
      'joint commands with the 0.2 s timeout, enable/stop, gripper) on a running ROS 1 master, until Ctrl-C')
    .option('--master <uri>', 'ROS 1 master (default: env ROS_MASTER_URI)')
    .option('--hostname <ip>', "this machine's address for the other nodes (default: env ROS_IP / ROS_HOSTNAME, else 127.0.0.1)")
    .option('--rate-hz <hz>', 'physics and joint state rate', '100')
    .option('--disabled', 'start disabled (enable with /robot/set_super_enable)')
    .action(async (o: { master?: string; hostname?: string; rateHz: string; disabled?: boolean }) => {
      const masterUri = o.master ?? DEFAULT_MASTER();
      const problem = await canConnect(masterUri, 3000);
      if (problem) throw new CliError(`cannot reach the ROS master at ${masterUri} (${problem}): start one (roscore) or set --master / ROS_MASTER_URI`);
      const { SimSawyer } = await import('../../robot/sawyer/sim-sawyer.js');
      const sim = new SimSawyer({ masterUri, hostname: o.hostname ?? DEFAULT_HOST(), rateHz: num('--rate-hz', o.rateHz), enabled: !o.disabled });
      await sim.start();
      process.stderr.write(`simulated Sawyer on ${masterUri} (${o.disabled ? 'disabled' : 'enabled'}); Ctrl-C stops it\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.stop();
    });
}
