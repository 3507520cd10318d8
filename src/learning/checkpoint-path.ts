/** Checkpoint paths (no tfjs here: the CLI checks paths before it loads the learning core). */
import path from 'node:path';

/** The directory of a checkpoint given as its directory or as its JSON file. */
export function checkpointDir(where: string): string {
  return where.endsWith('.json') ? path.dirname(where) : where;
}
