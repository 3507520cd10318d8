/** Untrained GMPS checkpoints (θ and α from `init`) for the policy and adaptation node tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/learning/backend.js';
import { saveCheckpoint } from '../src/learning/checkpoint.js';
import { GmpsLearner } from '../src/learning/gmps.js';
import { createPolicy, defaultMlpConfig, defaultVisionConfig, disposeParams } from '../src/learning/policy/index.js';

export async function writeTestCheckpoint(kind: 'state' | 'vision', seed = 1): Promise<string> {
  await initBackend({ log: null });
  const dir = mkdtempSync(path.join(tmpdir(), `gmps-${kind}-ck-`));
  const policy = createPolicy(kind === 'vision' ? defaultVisionConfig() : defaultMlpConfig(6, 3));
  const init = policy.init(seed);
  const learner = new GmpsLearner(policy, init);
  await saveCheckpoint(dir, learner, { seed, iteration: 0, extra: { task: 'door' } });
  learner.dispose();
  disposeParams(init.params);
  disposeParams(init.stepSizes);
  return dir;
}
