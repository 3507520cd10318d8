/**
 * Operator prompts ("Recording episode 3", "Reset the environment"), printed and, when `espeak-ng` is
 * installed, spoken (LeRobot's `log_say`). Speech is optional: without the program the prompt is only printed.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Full path of an executable on PATH, or undefined. */
export function findOnPath(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type Say = (text: string) => void;

/** A speaker using espeak-ng, or undefined when it is not installed. Never throws while speaking. */
export function espeakSpeaker(program = 'espeak-ng'): Say | undefined {
  const exe = findOnPath(program);
  if (!exe) return undefined;
  return (text) => {
    try {
      const child = spawn(exe, [text], { stdio: 'ignore', detached: false });
      child.on('error', () => {});
      child.unref();
    } catch {
      // speech is a convenience; the prompt was printed already
    }
  };
}

/** Prompt wording shared by the teleop and the recorder. */
export const PROMPTS = {
  recording: (episode: number) => `Recording episode ${episode}`,
  rerecording: (episode: number) => `Re-record episode ${episode}`,
  reset: () => 'Reset the environment',
  stopped: (saved: number) => `Stop recording, ${saved} episode${saved === 1 ? '' : 's'} saved`,
};
