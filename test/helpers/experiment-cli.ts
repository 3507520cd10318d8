import { Command } from 'commander';
import sinon from 'sinon';
import { registerExperiment } from '../../src/cli/commands/experiment.js';

/** Runs `gmps experiment|report ARGS` in-process and returns what it printed on stdout. */
export async function experimentCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerExperiment(program, new Command('bench'));
  const out: string[] = [];
  const write = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    write.restore();
  }
  return out.join('');
}
