/** Where the package lives: the repository root in development, `share/sawyer_gmps` when installed by colcon. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROS_PACKAGE_NAME = 'sawyer_gmps';
const NPM_PACKAGE_NAME = 'sawyer-gmps';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === NPM_PACKAGE_NAME) {
          cached = dir;
          return dir;
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${NPM_PACKAGE_NAME} package.json above ${import.meta.url}`);
    dir = up;
  }
}
