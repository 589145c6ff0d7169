import { Command, Option } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { EngineName } from '../core/types.ts';
import { SmqWorker, type SmqWorkerOptions } from './worker.ts';

/**
 * `smq worker`: the seed worker's flags that still mean something (hyphenated, as the seed), plus
 * the queue-era ones. Everything is handed to SmqWorker, which validates it once.
 */

/** The seed's `--wgp-*` globals (spec 01 §5.1): flag → wgp global, passed to the wgp engine when given. */
const WGP_FLAGS: Array<{ flag: string; key: string; choices?: string[]; int?: boolean; list?: boolean }> = [
  { flag: 'attention-mode', key: 'attention_mode', choices: ['auto', 'sdpa', 'sage', 'sage2', 'flash', 'xformers'] },
  { flag: 'compile', key: 'compile', choices: ['', 'transformer'] },
  { flag: 'profile', key: 'profile', int: true },
  { flag: 'vae-config', key: 'vae_config', int: true },
  { flag: 'boost', key: 'boost', int: true },
  { flag: 'transformer-quantization', key: 'transformer_quantization', choices: ['int8', 'bf16'] },
  { flag: 'transformer-dtype-policy', key: 'transformer_dtype_policy', choices: ['', 'fp16', 'bf16'] },
  { flag: 'text-encoder-quantization', key: 'text_encoder_quantization', choices: ['int8', 'bf16'] },
  { flag: 'vae-precision', key: 'vae_precision', choices: ['16', '32'] },
  { flag: 'mixed-precision', key: 'mixed_precision', choices: ['0', '1'] },
  { flag: 'preload-policy', key: 'preload_model_policy', list: true },
];

interface WorkerFlags {
  mainOutputDir: string;
  debug?: boolean;
  dbFile?: string;
  pollInterval?: string;
  concurrency: string;
  queues?: string;
  engine?: string[];
  gpu?: string;
  name?: string;
  grace: string;
  plugin?: string[];
  lockDuration?: string;
  stalledInterval?: string;
  [wgp: string]: unknown;
}

const collect = (value: string, prev: string[] = []) => [...prev, value];

export function registerWorkerCommand(program: Command): void {
  const cmd = program
    .command('worker')
    .description('Run tasks from the queues on this machine (one process per GPU); stops cleanly on SIGTERM/SIGINT')
    .option('--main-output-dir <dir>', 'shared output root for task outputs', './outputs')
    .option('--debug', 'debug logs; keep intermediate files')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite)')
    .option('--concurrency <n>', 'jobs run at once per queue', '1')
    .option('--queues <list>', 'comma list of queues to serve (default: cpu and gpu-<engine> of each engine)')
    .option('--engine <name>', 'engine to serve: onnx, wgp, comfyui (repeatable or comma list)', collect)
    .option('--gpu <index>', 'GPU device index handed to the engines')
    .option('--name <name>', 'worker name recorded on the jobs it runs (default <hostname>-<pid>)')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, let running jobs finish this long before handing them back', '30')
    .option('--plugin <module>', 'module whose default export is an array of task handlers (repeatable)', collect)
    .option('--lock-duration <ms>', 'BullMQ job lock duration; a dead worker\'s job is taken over after it lapses', '30000')
    .option('--stalled-interval <ms>', 'how often stalled jobs are looked for', '30000')
    .addOption(new Option('--poll-interval <seconds>', 'accepted for compatibility; ignored (jobs are pushed, nothing polls)').hideHelp());
  for (const w of WGP_FLAGS) {
    const opt = new Option(`--wgp-${w.flag} <value>`, `wgp engine: sets wgp ${w.key}`);
    if (w.choices) opt.choices(w.choices);
    cmd.addOption(opt);
  }
  cmd.action(async (flags: WorkerFlags) => {
    if (flags.pollInterval !== undefined) process.stderr.write('note: --poll-interval is ignored: smq workers are handed jobs by Redis, nothing polls\n');
    const options = workerOptionsFromFlags(flags);
    const worker = new SmqWorker(options);
    await runUntilSignalled(worker);
  });
}

export function workerOptionsFromFlags(flags: WorkerFlags): SmqWorkerOptions {
  const config = resolveConfig({ dbFile: flags.dbFile });
  const engines = (flags.engine ?? []).flatMap(splitList) as EngineName[];
  const wgp: Record<string, unknown> = {};
  for (const w of WGP_FLAGS) {
    const raw = flags[`wgp${camel(w.flag)}`];
    if (raw === undefined) continue;
    const value = String(raw);
    wgp[w.key] = w.int ? intFlag(value, `--wgp-${w.flag}`) : w.list ? splitList(value) : value;
  }
  return {
    config,
    engines: engines.length ? engines : undefined,
    queues: flags.queues ? splitList(flags.queues) : undefined,
    concurrency: intFlag(flags.concurrency, '--concurrency'),
    name: flags.name,
    gpu: flags.gpu === undefined ? null : intFlag(flags.gpu, '--gpu'),
    outputRoot: flags.mainOutputDir,
    debug: !!flags.debug,
    graceMs: numberFlag(flags.grace, '--grace') * 1000,
    plugins: flags.plugin ?? [],
    lockDuration: intFlag(flags.lockDuration ?? '30000', '--lock-duration'),
    stalledInterval: intFlag(flags.stalledInterval ?? '30000', '--stalled-interval'),
    engineOptions: Object.keys(wgp).length ? { wgp } : {},
  };
}

/** Starts the worker and stops it on the first SIGTERM/SIGINT; a second signal exits at once. */
async function runUntilSignalled(worker: SmqWorker): Promise<void> {
  await worker.start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        // Task children lead their own process groups and die when the IPC channel closes.
        process.stderr.write(`${sig} again: exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      void worker.close().finally(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function camel(flag: string): string {
  return flag
    .split('-')
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

function intFlag(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(flag, `${flag} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function numberFlag(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(flag, `${flag} must be a number, got ${JSON.stringify(v)}`);
  return n;
}
