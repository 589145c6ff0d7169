import type { Command } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { ValidationError } from '../core/errors.ts';
import { workerOptionsFromFlags } from '../consumers/worker-command.ts';
import { startDashboard } from './dashboard/server.ts';
import { runDemo } from './demo.ts';
import { startUp, untilSignal } from './up.ts';

/** `smq dashboard`, `smq up` and `smq demo`. */

interface ServeFlags {
  port: string;
  host: string;
  dbFile?: string;
}

export function parsePort(value: string, flag = '--port'): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ValidationError(flag, `must be a port number from 0 to 65535 (0 = any free port), got ${JSON.stringify(value)}`);
  return n;
}

const collect = (value: string, prev: string[] = []) => [...prev, value];

export function registerOpsCommands(program: Command): void {
  program
    .command('dashboard')
    .description('Serve Bull Board, the runs/task pages, the JSON API, /healthz, /readyz and /metrics (auth: SMQ_DASHBOARD_TOKEN, SMQ_DASHBOARD_USER/PASSWORD, SMQ_DASHBOARD_READONLY_TOKEN)')
    .option('--port <port>', 'port to listen on', '3000')
    .option('--host <host>', 'address to bind; a non-loopback address requires credentials', '127.0.0.1')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite)')
    .action(async (flags: ServeFlags) => {
      const port = parsePort(flags.port);
      const config = resolveConfig({ dbFile: flags.dbFile });
      const dash = await startDashboard({ config, host: flags.host, port });
      process.stderr.write(`smq dashboard on ${dash.url} (runs: ${dash.url}/runs, queues: ${dash.url}/admin/queues)\n`);
      await untilSignal();
      await dash.close();
    });

  program
    .command('up')
    .description('Run a worker, the reconciler and the dashboard in one process (single machine); stops cleanly on SIGTERM/SIGINT')
    .option('--port <port>', 'dashboard port', '3000')
    .option('--host <host>', 'dashboard address; a non-loopback address requires credentials', '127.0.0.1')
    .option('--db-file <path>', 'SQLite database file (DB_TYPE=sqlite)')
    .option('--main-output-dir <dir>', 'shared output root for task outputs', './outputs')
    .option('--debug', 'debug logs; keep intermediate files')
    .option('--concurrency <n>', 'jobs run at once per queue', '1')
    .option('--queues <list>', 'comma list of queues to serve (default: cpu and gpu-<engine> of each engine)')
    .option('--engine <name>', 'engine to serve: onnx, wgp, comfyui (repeatable or comma list)', collect)
    .option('--gpu <index>', 'GPU device index handed to the engines')
    .option('--name <name>', 'worker name recorded on the jobs it runs (default <hostname>-<pid>)')
    .option('--grace <seconds>', 'on SIGTERM/SIGINT, let running jobs finish this long before handing them back', '30')
    .option('--plugin <module>', 'module whose default export is an array of task handlers (repeatable)', collect)
    .action(async (flags: ServeFlags & Record<string, unknown>) => {
      const port = parsePort(flags.port);
      const workerOptions = workerOptionsFromFlags({ ...flags, mainOutputDir: String(flags.mainOutputDir), concurrency: String(flags.concurrency), grace: String(flags.grace) });
      const config = workerOptions.config ?? resolveConfig({ dbFile: flags.dbFile });
      const up = await startUp({ config, worker: workerOptions, host: flags.host, port });
      process.stderr.write(`smq up: worker and reconciler started, dashboard on ${up.dashboard.url}/runs\n`);
      const sig = await untilSignal();
      process.stderr.write(`smq up: ${sig} received, shutting down\n`);
      await up.close(workerOptions.graceMs);
    });

  program
    .command('demo')
    .description("The seed README's sample travel between three generated images, end to end on this machine (SQLite, local or private Redis, onnx engine)")
    .option('--output-dir <dir>', 'where the demo writes its database, sample images and final video', './outputs/demo')
    .option('--keep-running', 'keep the dashboard up after the video is done (Ctrl-C to stop)')
    .option('--port <port>', 'dashboard port (0 = any free port)', '0')
    .action(async (flags: { outputDir: string; keepRunning?: boolean; port: string }) => {
      await runDemo({ outputDir: flags.outputDir, keepRunning: flags.keepRunning === true, port: parsePort(flags.port) });
    });
}
