/** Checkpoint paths and file checks (no tfjs here: the CLI checks paths before it loads the learning core). */
import { stat } from 'node:fs/promises';
import path from 'node:path';

/** The directory of a checkpoint given as its directory or as its JSON file. */
export function checkpointDir(where: string): string {
  return where.endsWith('.json') ? path.dirname(where) : where;
}

/** Whether a regular file exists at `file`. */
export async function fileExists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
