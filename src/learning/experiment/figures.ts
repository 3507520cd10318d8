/**
 * The paper's figures as lists of runs, at two scales:
 * - `paper`: the sizes of gmps-paper appendix D / gmps-reference §8 (days of compute);
 * - `small`: the same runs shrunk to minutes each on a 2-core machine (curves show trends only).
 *
 * Baselines per figure follow the paper: Fig. 3 (meta-RL) compares PEARL, MAML, RL² and
 * MultiTask; Fig. 4 PEARL; Fig. 5's sparse-reward tasks PEARL, MAML, MultiTask and MAESN, its
 * vision pushing MAML and MultiTask (conv policies); Fig. 6 MultiTask-imitation (state or conv).
 * PEARL, RL² and MAESN plot return on held-out tasks (their `curve` default).
 */
import type { RunSpec, TaskSpec } from './types.js';

export const FIGURES = [
  'fig3-push',
  'fig3-ant',
  'fig4-ant-ood',
  'fig5-door-sparse',
  'fig5-ant-sparse',
  'fig5-vision-push',
  'fig6-door',
  'fig6-vision-push',
] as const;
export type FigureName = (typeof FIGURES)[number];
export const SCALES = ['small', 'medium', 'paper'] as const;
export type Scale = (typeof SCALES)[number];

export function isScale(s: string): s is Scale {
  return (SCALES as readonly string[]).includes(s);
}

export interface FigureSpec {
  name: FigureName;
  title: string;
  xLabel: string;
  yLabel: string;
  runs: RunSpec[];
  /** The paper's "GMPS needs N× fewer samples than MAML" where it states one. */
  paperRatioVsMaml?: number;
}

export function isFigure(s: string): s is FigureName {
  return (FIGURES as readonly string[]).includes(s);
}

interface Sizes {
  gmps: Record<string, unknown>;
  maml: Record<string, unknown>;
  multitask: Record<string, unknown>;
  imitation: Record<string, unknown>;
  sac: Record<string, unknown>;
  pearl: Record<string, unknown>;
  rl2: Record<string, unknown>;
  maesn: Record<string, unknown>;
  antHorizon: number;
}

const SIZES: Record<Scale, Sizes> = {
  small: {
    gmps: { numTasks: 4, numHeldOut: 2, rolloutsPerTask: 5, demosPerTask: 2, iterations: 6, adamSteps: 30, evalEvery: 2, hidden: [64, 64] },
    maml: { metaBatchSize: 4, numTasks: 4, numHeldOut: 2, rolloutsPerTask: 5, iterations: 6, evalEvery: 2, hidden: [64, 64] },
    multitask: { numTasks: 4, numHeldOut: 2, rolloutsPerTask: 5, iterations: 6, evalEvery: 2, evalRollouts: 2, hidden: [64, 64] },
    imitation: { numTasks: 4, numHeldOut: 2, demosPerTask: 2, bcSteps: 100, adaptSteps: 2, adaptRollouts: 5, hidden: [64, 64] },
    sac: { sacSteps: 2000, sacWarmup: 500, sacHidden: [64, 64] },
    pearl: {
      numTasks: 4, numHeldOut: 2, iterations: 6, evalEvery: 2, hidden: [64, 64], encoderHidden: [64, 64], metaBatch: 4, batchSize: 64,
      contextBatch: 32, initialEpisodesPerTask: 2, tasksPerIteration: 2, priorEpisodes: 1, posteriorEpisodes: 1, gradStepsPerIteration: 200,
    },
    rl2: { numTasks: 4, numHeldOut: 2, iterations: 6, evalEvery: 2, hidden: 32, trialsPerIteration: 8, episodesPerTrial: 2 },
    maesn: { numTasks: 4, numHeldOut: 2, iterations: 6, evalEvery: 2, hidden: [64, 64], latentDim: 2, episodesPerTask: 5, metaBatch: 4 },
    antHorizon: 50,
  },
  // Between the two: the paper's task and rollout counts (20 tasks x 20 rollouts, 100-100 MLP) for a
  // few hours per run on 2 cores. GMPS with the settings of the shipped door checkpoint
  // (checkpoints/README.md: fixed σ 0.5, α₀ 0.25, importance weights clipped at 2, DAgger, the
  // pre-update imitation term), 16 iterations of 100 Adam steps (the door checkpoint adapted from
  // iteration 12); the baselines at a comparable sample budget (about 1.2 M env samples).
  medium: {
    gmps: {
      numTasks: 20, numHeldOut: 5, rolloutsPerTask: 20, demosPerTask: 5, iterations: 16, adamSteps: 100, evalEvery: 4, hidden: [100, 100],
      initStd: 0.5, fixedStd: true, stepSize: 0.25, isClip: 2, dagger: true, preImitation: 1,
    },
    maml: { metaBatchSize: 20, numTasks: 20, numHeldOut: 5, rolloutsPerTask: 20, iterations: 10, evalEvery: 2, hidden: [100, 100] },
    multitask: { numTasks: 20, numHeldOut: 5, rolloutsPerTask: 20, iterations: 20, evalEvery: 4, evalRollouts: 5, hidden: [100, 100] },
    // σ 0.5 as GMPS's: both fine-tune from equally noisy rollouts.
    imitation: { numTasks: 20, numHeldOut: 5, demosPerTask: 5, bcSteps: 2000, adaptSteps: 3, adaptRollouts: 20, hidden: [100, 100], initStd: 0.5 },
    sac: { sacSteps: 100_000, sacWarmup: 5_000, sacHidden: [256, 256] },
    pearl: { numTasks: 20, numHeldOut: 5, iterations: 50, evalEvery: 10, hidden: [100, 100] },
    rl2: { numTasks: 20, numHeldOut: 5, iterations: 50, evalEvery: 10, hidden: 100, trialsPerIteration: 20, episodesPerTrial: 2 },
    maesn: { numTasks: 20, numHeldOut: 5, iterations: 30, evalEvery: 6, hidden: [100, 100], latentDim: 2, episodesPerTask: 20, metaBatch: 20 },
    antHorizon: 200,
  },
  paper: {
    gmps: { numTasks: 20, numHeldOut: 10, rolloutsPerTask: 20, demosPerTask: 5, iterations: 50, adamSteps: 500, evalEvery: 2, hidden: [100, 100] },
    maml: { metaBatchSize: 20, numTasks: 20, numHeldOut: 10, rolloutsPerTask: 20, iterations: 500, evalEvery: 10, hidden: [100, 100] },
    multitask: { numTasks: 20, numHeldOut: 10, rolloutsPerTask: 20, iterations: 500, evalEvery: 10, evalRollouts: 5, hidden: [100, 100] },
    imitation: { numTasks: 20, numHeldOut: 10, demosPerTask: 5, bcSteps: 2000, adaptSteps: 5, adaptRollouts: 20, hidden: [100, 100] },
    sac: { sacSteps: 2_000_000, sacWarmup: 10_000, sacHidden: [256, 256] },
    // PEARL's published settings (pearl.ts defaults: 2000 gradient steps and 5 tasks × (2 prior +
    // 3 posterior episodes) per iteration, meta-batch 16, batch 256, latent 5), 500 iterations.
    pearl: { numTasks: 20, numHeldOut: 10, iterations: 500, evalEvery: 10, hidden: [100, 100] },
    // RL²: GRU of 100 units, 2-episode trials, TRPO KL 0.01, batches the size of MAML's (20 trials).
    rl2: { numTasks: 20, numHeldOut: 10, iterations: 500, evalEvery: 10, hidden: 100, trialsPerIteration: 20, episodesPerTrial: 2 },
    // MAESN: (100, 100) policy, latent 2 (sweep 2 / 4), 20 tasks × 20 episodes per meta-step.
    maesn: { numTasks: 20, numHeldOut: 10, iterations: 500, evalEvery: 10, hidden: [100, 100], latentDim: 2, episodesPerTask: 20, metaBatch: 20 },
    antHorizon: 200,
  },
};

function runs(task: TaskSpec, entries: [id: string, algorithm: string, config: Record<string, unknown>][]): RunSpec[] {
  return entries.map(([id, algorithm, config]) => ({ id, algorithm, task, config }));
}

/**
 * Fig. 6: GMPS's fine-tuning curve against MultiTask-imitation's; `gmpsExtra` / `imitationExtra`
 * are added to their configs (e.g. the vision policy).
 */
function fig6Runs(s: Sizes, scale: Scale, gmpsExtra: Record<string, unknown>, imitationExtra: Record<string, unknown>): [string, string, Record<string, unknown>][] {
  const gmps = { ...s.gmps, ...gmpsExtra, curve: 'fineTune', adaptSteps: s.imitation.adaptSteps, adaptRollouts: s.imitation.adaptRollouts };
  const imitation = { ...s.imitation, ...imitationExtra };
  return [
    ['gmps', 'gmps', gmps],
    ['multitask-imitation', 'multitask-imitation', imitation],
    // Beyond 'small': the baseline's fine-tuning step size swept (0.1 wrecks the cloned policy in
    // one step; 0.001 was its best at medium scale on the door), and GMPS's learned first step
    // followed by plain policy-gradient steps of that size (its α is meta-trained for the first step
    // only; on the door, repeating it undoes the first step's gain; the adaptation node's launch
    // default), or by steps of 0.25·α.
    ...(scale === 'small'
      ? []
      : ([
          ['gmps-then-pg0.001', 'gmps', { ...gmps, laterStepSize: 0.001 }],
          ['gmps-later0.25', 'gmps', { ...gmps, laterStepScale: 0.25 }],
          ['multitask-imitation-ft0.01', 'multitask-imitation', { ...imitation, fineTuneStepSize: 0.01 }],
          ['multitask-imitation-ft0.001', 'multitask-imitation', { ...imitation, fineTuneStepSize: 0.001 }],
        ] as [string, string, Record<string, unknown>][])),
  ];
}

export function figureSpec(name: FigureName, scale: Scale): FigureSpec {
  const s = SIZES[scale];
  const samples = { xLabel: 'meta-training environment samples', yLabel: 'average return after adaptation' };
  const steps = { xLabel: 'adaptation steps on held-out tasks', yLabel: 'average return' };
  const push: TaskSpec = { kind: 'push', envOptions: {} };
  const door: TaskSpec = { kind: 'door', envOptions: { dense: false } };
  const ant: TaskSpec = { kind: 'ant', envOptions: { dense: true, horizon: s.antHorizon } };
  const antSparse: TaskSpec = { kind: 'ant', envOptions: { dense: false, horizon: s.antHorizon } };
  // MAML's second-order TRPO step over 20 tasks x 20 rollouts x 200 Ant steps overflowed the wasm heap in one
  // graph ("memory access out of bounds" at the first outer step): at horizon 200 it goes in parts of 5 tasks
  // (the same step; 20 000 rows per part, as push's whole meta-batch).
  const antMaml = s.antHorizon > 50 ? { ...s.maml, tasksPerPart: 5 } : s.maml;
  const visionPush: TaskSpec = { kind: 'push', envOptions: { camera: { width: 64, height: 48 } } };
  const vision = { obsMode: 'vision' };
  switch (name) {
    case 'fig3-push':
      return {
        name, title: 'Fig. 3: Sawyer pushing (full state)', ...samples, paperRatioVsMaml: 4,
        runs: runs(push, [
          ['gmps', 'gmps', s.gmps], ['maml', 'maml', s.maml], ['multitask', 'multitask', s.multitask], ['pearl', 'pearl', s.pearl], ['rl2', 'rl2', s.rl2],
        ]),
      };
    case 'fig3-ant':
      return {
        name, title: 'Fig. 3: Ant goal locomotion (dense)', ...samples, paperRatioVsMaml: 12,
        runs: runs(ant, [
          ['gmps', 'gmps', { ...s.gmps, ...s.sac, expert: 'sac' }], ['maml', 'maml', antMaml], ['multitask', 'multitask', s.multitask],
          ['pearl', 'pearl', s.pearl], ['rl2', 'rl2', s.rl2],
        ]),
      };
    case 'fig4-ant-ood':
      return {
        name, title: 'Fig. 4: Ant extrapolation to out-of-distribution goals', ...steps,
        runs: runs(ant, [
          ['gmps', 'gmps', { ...s.gmps, ...s.sac, expert: 'sac', curve: 'ood', adaptSteps: s.imitation.adaptSteps, adaptRollouts: s.imitation.adaptRollouts }],
          ['maml', 'maml', { ...antMaml, curve: 'ood', adaptSteps: s.imitation.adaptSteps, adaptRollouts: s.imitation.adaptRollouts }],
          // PEARL adapts by inference: adaptSteps = context episodes before acting on the posterior.
          ['pearl', 'pearl', { ...s.pearl, curve: 'ood', adaptSteps: s.imitation.adaptSteps }],
        ]),
      };
    case 'fig5-door-sparse':
      return {
        name, title: 'Fig. 5: sparse-reward door opening', ...samples,
        runs: runs(door, [
          ['gmps', 'gmps', s.gmps], ['maml', 'maml', s.maml], ['multitask', 'multitask', s.multitask], ['pearl', 'pearl', s.pearl], ['maesn', 'maesn', s.maesn],
        ]),
      };
    case 'fig5-ant-sparse':
      return {
        name, title: 'Fig. 5: sparse-reward Ant locomotion', ...samples,
        runs: runs(antSparse, [
          ['gmps', 'gmps', { ...s.gmps, ...s.sac, expert: 'sac' }], ['maml', 'maml', antMaml], ['multitask', 'multitask', s.multitask],
          ['pearl', 'pearl', s.pearl], ['maesn', 'maesn', s.maesn],
        ]),
      };
    case 'fig5-vision-push':
      return {
        name, title: 'Fig. 5: vision pushing', ...samples,
        // The paper's vision comparison (§5.3): GMPS from demonstrations against MAML-RL and a
        // MultiTask policy trained by RL, all with the same conv policy.
        runs: runs(visionPush, [
          ['gmps', 'gmps', { ...s.gmps, ...vision }], ['maml', 'maml', { ...s.maml, ...vision }], ['multitask', 'multitask', { ...s.multitask, ...vision }],
        ]),
      };
    case 'fig6-door':
      return { name, title: 'Fig. 6: sparse door, GMPS vs MultiTask-imitation fine-tuning', ...steps, runs: runs(door, fig6Runs(s, scale, {}, {})) };
    case 'fig6-vision-push':
      return {
        name, title: 'Fig. 6: vision pushing, GMPS vs MultiTask-imitation fine-tuning', ...steps,
        // Behaviour cloning of the conv policy in minibatches of 256 frames (a full batch is every demonstration frame).
        runs: runs(visionPush, fig6Runs(s, scale, vision, { ...vision, bcBatch: 256 })),
      };
  }
}
