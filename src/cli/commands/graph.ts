import type { Command } from 'commander';
import { CliError } from '../errors.js';

/** `gmps launch` and `gmps bench graph`. */
export function registerGraph(program: Command, bench: Command): void {
  program
    .command('launch')
    .description(
      'run a ROS 2 YAML launch file in one process on the in-process runtime (the same file works with `ros2 launch`); ' +
        'runs until every node finishes or Ctrl-C',
    )
    .argument('<file>', 'launch file, e.g. launch/sim.launch.yaml')
    .argument('[args...]', 'launch arguments as name:=value')
    .option('--plan', 'print the resolved plan (nodes, namespaces, parameters, remaps, ros2 commands) and exit')
    .option('--cdr-check', 'also serialize every published message to CDR (slower, strictest check)')
    .option('--json', 'print a one-line JSON summary on stdout')
    .action(async (file: string, args: string[], opts: { plan?: boolean; json?: boolean; cdrCheck?: boolean }) => {
      const { planLaunch, parseLaunchArgs } = await import('../../graph/launch/plan.js');
      const { runLaunchPlan } = await import('../../graph/launch/run.js');
      const { GraphError } = await import('../../graph/errors.js');
      const { InProcessRuntime } = await import('../../graph/inprocess.js');
      const { existsSync } = await import('node:fs');
      if (!existsSync(file)) throw new CliError(`launch file not found: ${file}`);
      let plan;
      try {
        plan = planLaunch(file, { args: parseLaunchArgs(args) });
      } catch (err) {
        if (err instanceof GraphError) throw new CliError(err.message);
        throw err;
      }
      if (opts.plan) {
        process.stdout.write(opts.json ? `${JSON.stringify(plan)}\n` : formatPlan(plan));
        return;
      }
      const started = performance.now();
      const controller = new AbortController();
      let interrupted = false;
      const onSignal = (): void => {
        interrupted = true;
        controller.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let failure: Error | undefined;
      let fail!: (e: Error) => void;
      const failed = new Promise<void>((resolve) => (fail = (e) => ((failure ??= e), resolve())));
      const runtime = new InProcessRuntime({
        validation: opts.cdrCheck ? 'cdr' : undefined,
        onError: (err, where) => fail(new Error(`${where}: ${err.message}`)),
      });
      let run;
      try {
        run = await runLaunchPlan(plan, { runtime, signal: controller.signal });
      } catch (err) {
        if (err instanceof GraphError) throw new CliError(err.message);
        throw err;
      }
      // A node whose `done` resolves with an object reports its result: it leads the --json summary.
      const results: Record<string, unknown>[] = [];
      for (const n of run.nodes) {
        if (!n.hasDone) continue;
        n.done.then(
          (v) => void (v && typeof v === 'object' && !Array.isArray(v) && results.push(v as Record<string, unknown>)),
          () => {},
        );
      }
      const aborted = new Promise<void>((r) => controller.signal.addEventListener('abort', () => r(), { once: true }));
      await Promise.race([run.finished.catch((e: Error) => fail(e)), failed, aborted]);
      await run.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const summary = {
        ...Object.assign({}, ...results),
        file: plan.file,
        nodes: run.nodes.map((n) => n.fqn),
        status: failure ? 'failed' : interrupted ? 'interrupted' : 'finished',
        error: failure?.message,
        seconds: Math.round((performance.now() - started) / 10) / 100,
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`launch ${summary.status} after ${summary.seconds} s (${summary.nodes.join(', ')})\n`);
      if (failure) throw new CliError(`launch failed: ${failure.message}`, 1);
    });

  bench
    .command('graph')
    .description(
      'in-process runtime: JointState and 48x64 Image msgs/s through validation, and 20 Hz image → policy → command latency',
    )
    .option('--seconds <s>', 'duration of the 20 Hz loop', '3')
    .option('--cdr-check', 'measure with CDR serialization of every message')
    .option('--policy <kind>', 'policy in the loop: vision (the GMPS conv policy, untrained unless --checkpoint) or brightness (trivial)', 'vision')
    .option('--checkpoint <dir>', 'vision checkpoint whose policy runs in the loop')
    .option('--json', 'print JSON on one line')
    .action(async (opts: { seconds: string; json?: boolean; cdrCheck?: boolean; policy: string; checkpoint?: string }) => {
      const seconds = Number(opts.seconds);
      if (!(seconds > 0)) throw new CliError(`--seconds must be a positive number, got '${opts.seconds}'`);
      if (opts.policy !== 'vision' && opts.policy !== 'brightness') throw new CliError(`--policy must be vision or brightness, got '${opts.policy}'`);
      const { runGraphBench } = await import('../../graph/bench.js');
      let inference: Awaited<ReturnType<typeof import('../../learning/policy-runner.js').imageCommandPolicy>> | undefined;
      if (opts.policy === 'vision' || opts.checkpoint) {
        const { imageCommandPolicy } = await import('../../learning/policy-runner.js');
        try {
          inference = await imageCommandPolicy(opts.checkpoint);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      }
      const run = inference?.run;
      const r = await runGraphBench({
        loopSeconds: seconds,
        validation: opts.cdrCheck ? 'cdr' : 'check',
        policy: run ? (img) => ({ linear: run(img), angular: { x: 0, y: 0, z: 0 } }) : undefined,
      }).finally(() => inference?.dispose());
      const policy = inference?.describe ?? 'brightness';
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...r, policy })}\n`);
      else {
        process.stdout.write(
          `JointState ${r.msgs_per_sec_joint_state} msg/s, Image 48x64 ${r.msgs_per_sec_image} msg/s (${r.validation})\n` +
            `policy: ${policy}\n` +
            `${r.loop_hz} Hz loop: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms, ` +
            `${r.missed_deadlines} missed deadlines over ${r.loop_samples} samples\n`,
        );
      }
    });
}

function formatPlan(plan: import('../../graph/launch/plan.js').LaunchPlan): string {
  const lines = [`launch ${plan.file}`, `args: ${JSON.stringify(plan.args)}`];
  for (const n of plan.nodes) {
    lines.push(`node ${n.name ?? '(default name)'} in ${n.namespace}: ${n.command.join(' ')}`);
  }
  for (const e of plan.executables) lines.push(`executable ${e.name ?? ''}: ${e.cmd}`);
  return `${lines.join('\n')}\n`;
}
