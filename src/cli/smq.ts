import { Command, CommanderError } from 'commander';
import { registerWorkerCommand } from '../consumers/worker-command.ts';
import { registerRunCommands } from '../producers/run-commands.ts';
import { registerReconcileCommand } from '../reconciler/command.ts';
import { registerOpsCommands } from '../ops/commands.ts';
import { registerDbCommands } from '../db/commands.ts';
import { exitCodeFor, printError } from './exit.ts';

/** `smq <sub-command>`: each area registers its own commands; this file only assembles them. */
export function buildProgram(): Command {
  const program = new Command('smq')
    .description('Steerable Motion Queue: GPU video jobs on BullMQ with a canonical SQL tasks table')
    .showHelpAfterError()
    .exitOverride();
  registerDbCommands(program);
  registerRunCommands(program);
  registerWorkerCommand(program);
  registerReconcileCommand(program);
  registerOpsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    printError(err);
    process.exitCode = exitCodeFor(err);
  }
}
