import type { Command } from 'commander';
import { registerSim } from './sim.js';
import { registerGraph } from './graph.js';
import { registerCalibrate } from './calibrate.js';
import { registerLearningBench } from './learning-bench.js';
import { registerData } from './data.js';
import { registerLearning } from './learning.js';
import { registerSawyer } from './sawyer.js';
import { registerExperiment } from './experiment.js';

/** Every verb of `gmps`, by area. `bench` is the parent of all `gmps bench ...` verbs. */
export function registerCommands(program: Command, bench: Command): void {
  registerSim(program, bench);
  registerGraph(program, bench);
  registerCalibrate(program, bench);
  registerLearningBench(program, bench);
  registerData(program, bench);
  registerLearning(program, bench);
  registerSawyer(program, bench);
  registerExperiment(program, bench);
}
