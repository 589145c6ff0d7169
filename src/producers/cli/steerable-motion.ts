import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { resolveConfig, type SmqConfig } from '../../core/config.ts';
import { SmqError } from '../../core/errors.ts';
import { exitCodeFor } from '../../cli/exit.ts';
import { enqueueDifferentPose, enqueueTravel, type EnqueueResult, type TravelEnqueueResult } from '../api.ts';
import { openProducerDeps, type OpenedProducerDeps } from '../deps.ts';
import { parsePoseOptions } from '../pose-args.ts';
import { expandTravel, parseTravelOptions } from '../travel-args.ts';
import { addFlags, COMMON_FLAGS, convertFlags, lastOccurrenceWins, normaliseArgv, OUTPUT_FLAGS, POSE_FLAGS, TRAVEL_FLAGS, type FlagSpec } from './flags.ts';
import { followRun } from './follow.ts';

/**
 * `steerable-motion <travel_between_images|different_pose> [flags]`: a thin shell over the producer
 * API. Exit codes: 0 queued (or, with --wait, finished Complete), 2 bad arguments (the message names
 * the flag and the fix), 1 anything else (with --wait: the run Failed or was Cancelled), 130 when
 * Ctrl-C stopped a --wait (the run goes on).
 */

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean;
  /** Aborts a --wait (main wires SIGINT to it). */
  signal?: AbortSignal;
  /** Told when a --wait starts and ends, so Ctrl-C outside a wait still ends the process. */
  following?: (on: boolean) => void;
}

const SUBCOMMANDS: Record<string, { flags: FlagSpec[]; taskType: string }> = {
  travel_between_images: { flags: [...COMMON_FLAGS, ...TRAVEL_FLAGS], taskType: 'travel_orchestrator' },
  different_pose: { flags: [...COMMON_FLAGS, ...POSE_FLAGS], taskType: 'different_pose_orchestrator' },
};

interface Parsed {
  sub: string;
  raw: Record<string, unknown>;
  dbPathGiven: boolean;
}

function buildProgram(io: CliIo, onParsed: (p: Parsed) => void): Command {
  const program = new Command('steerable-motion')
    .description('Queue steerable-motion video runs (travel between images, different pose) for smq workers')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for every flag)');
  for (const [sub, spec] of Object.entries(SUBCOMMANDS)) {
    const cmd = program
      .command(sub)
      .description(sub === 'travel_between_images' ? 'a video that travels between anchor images' : 'a video of the character of --input_image in the pose described by --prompt')
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    addFlags(cmd, [...spec.flags, ...OUTPUT_FLAGS]);
    cmd.action((opts: Record<string, unknown>, c: Command) => onParsed({ sub, raw: opts, dbPathGiven: c.getOptionValueSource('db_path') === 'cli' }));
  }
  return program;
}

function normalise(args: string[]): string[] {
  const subIdx = args.findIndex((a) => !a.startsWith('-'));
  if (subIdx === -1) return args;
  const spec = SUBCOMMANDS[args[subIdx]!];
  if (!spec) return args;
  const known = [...spec.flags, ...OUTPUT_FLAGS].map((f) => f.name).concat('help');
  const variadic = spec.flags.filter((f) => f.kind === 'strings' || f.kind === 'ints').map((f) => f.name);
  return [...args.slice(0, subIdx + 1), ...lastOccurrenceWins(normaliseArgv(args.slice(subIdx + 1), known), variadic)];
}

/** Runs the CLI on `args` (argv without node and script); returns the exit code. */
export async function run(args: string[], io: CliIo): Promise<number> {
  let parsed: Parsed | null = null;
  let wantJson = args.includes('--json');
  try {
    const program = buildProgram(io, (p) => (parsed = p));
    try {
      await program.parseAsync(normalise(args), { from: 'user' });
    } catch (err) {
      if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
      throw err;
    }
    if (!parsed) return 2;
    const { sub, raw, dbPathGiven } = parsed as Parsed;
    const spec = SUBCOMMANDS[sub]!;
    const input = convertFlags(raw, spec.flags);
    const wait = raw.wait === true;
    wantJson = raw.json === true;
    // Pure validation first, so bad arguments never touch the database.
    if (sub === 'travel_between_images') expandTravel(parseTravelOptions(input));
    else parsePoseOptions(input);
    // --db_path beats SQLITE_DB_PATH_ENV (a flag wins); without either, tasks.db in the working directory, as the seed.
    const dbFile = dbPathGiven ? String(raw.db_path) : io.env.SQLITE_DB_PATH_ENV?.trim() ? undefined : 'tasks.db';
    const config = resolveConfig({ dbFile: dbFile === undefined ? undefined : path.resolve(io.cwd, dbFile) }, io.env);
    const deps = await openProducerDeps(config);
    try {
      const result: EnqueueResult =
        sub === 'travel_between_images'
          ? await enqueueTravel(input as never, deps, { cwd: io.cwd })
          : await enqueueDifferentPose(input as never, deps, { cwd: io.cwd });
      if (sub === 'travel_between_images' && input.debug === true) {
        // The seed wrote the command it ran next to the run's artefacts under --debug.
        await writeFile(path.join((result as TravelEnqueueResult).logFolder, 'executed_command.txt'), `steerable-motion ${args.join(' ')}\n`).catch(() => {});
      }
      const summary = summarise(sub, spec.taskType, result, config);
      if (!wantJson) printQueued(io, spec.taskType, result, config);
      if (!wait) {
        if (wantJson) io.stdout(`${JSON.stringify(summary)}\n`);
        return 0;
      }
      return await waitFor(io, deps, result, summary, wantJson, typeof input.poll_interval === 'number' ? input.poll_interval : null);
    } finally {
      await deps.close();
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    io.stderr(`error: ${msg}\n`);
    if (wantJson) {
      const field = err instanceof SmqError && 'field' in err ? (err as { field: string }).field : undefined;
      io.stdout(`${JSON.stringify({ ok: false, error: msg, ...(field ? { field } : {}) })}\n`);
    }
    return exitCodeFor(err);
  }
}

function summarise(sub: string, taskType: string, r: EnqueueResult, config: SmqConfig): Record<string, unknown> {
  return {
    ok: true,
    command: sub,
    task_type: taskType,
    run_id: r.runId,
    orchestrator_task_id: r.orchestratorTaskId,
    task_ids: r.taskIds,
    dispatched: r.dispatched,
    ...('logFolder' in r ? { log_folder: (r as TravelEnqueueResult).logFolder } : {}),
    db: config.dbType === 'sqlite' ? config.sqlitePath : config.dbType,
  };
}

function printQueued(io: CliIo, taskType: string, r: EnqueueResult, config: SmqConfig): void {
  io.stdout(`Successfully enqueued '${taskType}' task (ID: ${r.orchestratorTaskId}).\n`);
  io.stdout(`Run ID: ${r.runId}\n`);
  if (!r.dispatched) {
    io.stdout(
      `Redis at ${config.redisUrl} did not answer: the task is saved as Queued in table '${config.tableName}' and will be dispatched once Redis (REDIS_URL) is back (the reconciler, smq reconcile, picks up undispatched rows).\n`,
    );
  }
  io.stdout(`Follow it with: smq status ${r.runId}\n`);
}

async function waitFor(
  io: CliIo,
  deps: OpenedProducerDeps,
  result: EnqueueResult,
  summary: Record<string, unknown>,
  json: boolean,
  pollSeconds: number | null,
): Promise<number> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  // A signal aborted while the run was being queued never fires its listeners again.
  if (io.signal?.aborted) controller.abort();
  else io.signal?.addEventListener('abort', onAbort, { once: true });
  io.following?.(true);
  try {
    const outcome = await followRun({
      runId: result.runId,
      stepIds: result.taskIds.filter((id) => id !== result.orchestratorTaskId),
      deps,
      // The seed's --poll_interval is in seconds and meant for table polls; a live bar wants faster reads.
      pollMs: Math.min(1000, (pollSeconds ?? 1) * 1000),
      signal: controller.signal,
      tty: io.isTTY,
      quiet: json,
      write: (l) => io.stdout(`${l}\n`),
    });
    if (outcome.kind === 'stopped') {
      if (json) io.stdout(`${JSON.stringify({ ...summary, following: 'stopped' })}\n`);
      else io.stdout(`Stopped following; the run continues. Resume with: smq status ${result.runId}\n`);
      return 130;
    }
    const st = outcome.status;
    if (json) {
      io.stdout(`${JSON.stringify({ ...summary, status: st.status, output_location: st.outputLocation, error_message: st.errorMessage })}\n`);
    } else if (st.status === 'Complete') {
      io.stdout(`Run ${result.runId} Complete. Final video: ${st.outputLocation}\n`);
    } else {
      io.stderr(`Run ${result.runId} ${st.status}: ${st.errorMessage ?? 'no reason recorded'}\n`);
    }
    return st.status === 'Complete' ? 0 : 1;
  } finally {
    io.following?.(false);
    io.signal?.removeEventListener('abort', onAbort);
  }
}

export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  let following = false;
  // During --wait Ctrl-C only stops the following; before that it ends the process as usual.
  const onSigint = () => (following ? controller.abort() : process.exit(130));
  process.on('SIGINT', onSigint);
  try {
    process.exitCode = await run(argv.slice(2), {
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
      env: process.env,
      cwd: process.cwd(),
      isTTY: process.stdout.isTTY === true,
      signal: controller.signal,
      following: (on) => (following = on),
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
