#!/usr/bin/env node
/**
 * `gmps`: one command with verbs. Each area registers its verbs from `src/cli/commands/`;
 * heavy modules (MuJoCo, tfjs) are imported inside the actions so `--help` stays instant.
 */
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { CliError } from './errors.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('gmps')
    .description('Guided Meta-Policy Search for the Rethink Sawyer: simulate, meta-train, adapt, deploy')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  const bench = program.command('bench').description('benchmarks that print JSON (medians of one run)');
  registerCommands(program, bench);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`gmps: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`gmps: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
