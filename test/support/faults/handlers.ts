import { appendFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { TaskHandler } from '../../../src/consumers/handlers/types.ts';

/**
 * Misbehaving task handlers the fault suite loads into real `smq worker` processes with
 * `--plugin`. Each appends to a ledger file (`ledger`: one line per start and per completion), so a
 * test can count runs without trusting the system under test.
 */

const ledgerOnly = z.object({ ledger: z.string() });

async function note(ledger: string, taskId: string, what: string): Promise<void> {
  await appendFile(ledger, `${what} ${taskId} ${process.pid}\n`);
}

/** Fails every attempt with a plain Error (retryable by BullMQ until attempts run out). */
const throwing: TaskHandler<z.infer<typeof ledgerOnly>> = {
  taskType: 'fault_throw',
  schema: ledgerOnly,
  timeoutMs: 10_000,
  isolation: 'process',
  async run(p, ctx) {
    await note(p.ledger, ctx.taskId, 'start');
    throw new Error(`fault_throw: deliberate failure on attempt ${ctx.attemptsMade + 1}`);
  },
};

const hangSchema = z.object({ ledger: z.string(), pidFile: z.string() });
/** Never finishes; only the 3 s timeout stops it. Records its pid so the test can see it is gone. */
const hanging: TaskHandler<z.infer<typeof hangSchema>> = {
  taskType: 'fault_hang',
  schema: hangSchema,
  timeoutMs: 3000,
  isolation: 'process',
  async run(p, ctx) {
    await note(p.ledger, ctx.taskId, 'start');
    await appendFile(p.pidFile, `${process.pid}\n`);
    await new Promise(() => {});
    return { output_location: null };
  },
};

/**
 * Allocates live JS objects until V8 gives up. The worker running it is started with a small
 * `--max-old-space-size` (inherited by its task children), so this dies at a few hundred MB on a
 * shared machine rather than taking the host down.
 */
const oom: TaskHandler<z.infer<typeof hangSchema>> = {
  taskType: 'fault_oom',
  schema: hangSchema,
  timeoutMs: 60_000,
  isolation: 'process',
  async run(p, ctx) {
    await note(p.ledger, ctx.taskId, 'start');
    await appendFile(p.pidFile, `${process.pid}\n`);
    const hoard: number[][] = [];
    for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i + hoard.length));
  },
};

const cpuSchema = z.object({ ledger: z.string(), ms: z.number().int().positive() });
/**
 * Healthy but long and CPU-bound, like a real segment: spins the CPU for `ms` with no awaits in
 * between. It runs in a child process, so the worker's event loop (and lock renewal) stays free.
 */
const cpuBound: TaskHandler<z.infer<typeof cpuSchema>> = {
  taskType: 'fault_cpu',
  schema: cpuSchema,
  timeoutMs: 180_000,
  isolation: 'process',
  async run(p, ctx) {
    await note(p.ledger, ctx.taskId, 'start');
    const end = Date.now() + p.ms;
    let x = 0;
    while (Date.now() < end) for (let i = 0; i < 100_000; i++) x = (x * 31 + i) % 1_000_003;
    await note(p.ledger, ctx.taskId, 'done');
    await writeFile(`${p.ledger}.${ctx.taskId}.result`, String(x));
    return { output_location: null, spun: p.ms };
  },
};

/** Does nothing but write the ledger: the control in a batch of misbehaving tasks. */
const quiet: TaskHandler<z.infer<typeof ledgerOnly>> = {
  taskType: 'fault_noop',
  schema: ledgerOnly,
  timeoutMs: 10_000,
  isolation: 'inline',
  async run(p, ctx) {
    await note(p.ledger, ctx.taskId, 'done');
    return { output_location: null };
  },
};

export default [throwing, hanging, oom, cpuBound, quiet];
