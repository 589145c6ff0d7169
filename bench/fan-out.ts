/**
 * Fan-out: the time an orchestrator takes to plan a travel run of N segments — canonical rows and
 * jobs, through the same flows code the travel_orchestrator handler runs (planFromRows +
 * FlowControl.addChildren) — vs a raw `FlowProducer.add` of the same tree (same ids, data and
 * nesting) under the same kind of parent. Both parents are real active jobs taken from a queue.
 */
import path from 'node:path';
import { FlowProducer, Queue, Worker, type FlowJob, type Job } from 'bullmq';
import type { ChildTask } from '../src/consumers/handlers/types.ts';
import { planFromRows } from '../src/consumers/handlers/travel-orchestrator.ts';
import type { JobData } from '../src/core/types.ts';
import { openStore } from '../src/db/open-store.ts';
import type { TaskStore } from '../src/db/task-store.ts';
import { Dispatcher } from '../src/flows/dispatch.ts';
import { createFlowControl } from '../src/flows/flow-control.ts';
import { CPU_QUEUE, queueForTask } from '../src/flows/queues.ts';
import { parseOrchestratorDetails, type OrchestratorDetails } from '../src/flows/travel-details.ts';
import { benchConfig, benchPrefix, dropPrefix, median, openRedis, round } from './support.ts';

export interface FanOutBenchOptions {
  sizes: number[];
  workDir: string;
  /**
   * Measurements per size (the median is reported). @defaultValue 7 below 1000 segments (a few
   * milliseconds each, so one busy moment would otherwise decide the row); 3 at 1000 with the
   * planned tree; once at 1000 with the seed payload (98 MiB per run in Redis and the table).
   */
  repeats?: number;
  /**
   * 'spec' (the default): the seed's wire format — the planned tree with every segment also
   * carrying the whole details as `full_orchestrator_payload` and the run's image list, as the
   * seed's segments (and smq's planner until it stopped copying them) did, so bytes grow as N².
   * 'lean': the tree smq's planner writes (segments load those from the orchestrator row), the
   * tree the travel_orchestrator handler really adds.
   */
  payload?: 'spec' | 'lean';
}

export interface FanOutRow {
  segments: number;
  smqMs: number;
  rawMs: number;
  smqMsPerSegment: number;
  rawMsPerSegment: number;
  /** Bytes of params in the tree (with 'spec' each segment carries the whole details). */
  treeDataBytes: number;
  /** Which tree was measured: 'planned' (what smq adds) or 'seed payload' (the 'spec' variant). */
  tree: 'planned' | 'seed payload';
}

/** The details a client writes for an N-segment travel (short strings, seed defaults elsewhere). */
export function travelDetailsFor(n: number, runId: string, root: string): Record<string, unknown> {
  return {
    run_id: runId,
    num_new_segments_to_generate: n,
    input_image_paths_resolved: Array.from({ length: n + 1 }, (_, i) => `${root}/img_${i}.png`),
    parsed_resolution_wh: [640, 360],
    main_output_dir_for_run: `${root}/out`,
    base_prompts_expanded: ['a slow pan across a valley'],
    segment_frames_expanded: [81],
    frame_overlap_expanded: [16],
    execution_engine: 'onnx',
    segment_mode: 'chained',
  };
}

type Shape = (trees: ChildTask[], details: OrchestratorDetails) => ChildTask[];

const planned: Shape = (trees) => trees;

/** The seed's segment payload on top of the planned tree: the whole details and the image list, in every segment. */
const seedPayload: Shape = (trees, details) =>
  trees.map((t) => ({
    ...t,
    params: t.taskType === 'travel_segment' ? { ...t.params, full_orchestrator_payload: details, input_image_paths_resolved: details.input_image_paths_resolved } : t.params,
    ...(t.children ? { children: seedPayload(t.children, details) } : {}),
  }));

function rawFlow(node: ChildTask, prefix: string): FlowJob {
  const children = (node.children ?? []).map((c) => rawFlow(c, prefix));
  return {
    name: node.taskType,
    queueName: queueForTask(node.taskType, node.params),
    prefix,
    data: { taskType: node.taskType, params: node.params },
    opts: { jobId: node.taskId, failParentOnFailure: true },
    ...(children.length ? { children } : {}),
  };
}

function dataBytes(trees: ChildTask[]): number {
  let n = 0;
  const walk = (t: ChildTask) => {
    n += Buffer.byteLength(JSON.stringify(t.params));
    t.children?.forEach(walk);
  };
  trees.forEach(walk);
  return n;
}

/** An orchestrator job taken from the queue, active and locked, as the worker would hold it. */
async function activeParent(queue: Queue, worker: Worker, id: string, data: JobData): Promise<{ job: Job; token: string }> {
  await queue.add(data.taskType, data, { jobId: id });
  const token = `bench-${id}`;
  const job = (await worker.getNextJob(token)) as Job | undefined;
  if (!job || job.id !== id) throw new Error(`bench: expected to take ${id} from ${queue.name}, got ${job?.id ?? 'nothing'}`);
  return { job, token };
}

interface World {
  prefix: string;
  queue: Queue;
  worker: Worker;
  flowProducer: FlowProducer;
  dispatcher: Dispatcher;
  connections: ReturnType<typeof openRedis>[];
}

function world(name: string): World {
  const prefix = benchPrefix(name);
  const connection = openRedis();
  const workerConnection = openRedis();
  return {
    prefix,
    connections: [connection, workerConnection],
    queue: new Queue(CPU_QUEUE, { connection, prefix }),
    // Never runs: the bench takes jobs by hand with getNextJob.
    worker: new Worker(CPU_QUEUE, null, { connection: workerConnection, prefix, autorun: false }),
    flowProducer: new FlowProducer({ connection, prefix }),
    dispatcher: new Dispatcher(connection, prefix),
  };
}

async function closeWorld(w: World): Promise<void> {
  const redis = openRedis();
  await w.worker.close();
  await Promise.all([w.queue.close(), w.flowProducer.close(), w.dispatcher.close()]);
  await dropPrefix(redis, w.prefix);
  redis.disconnect();
  // BullMQ leaves connections it was handed open.
  for (const c of w.connections) c.disconnect();
}

async function smqOnce(w: World, store: TaskStore, n: number, runId: string, root: string, shape: Shape): Promise<{ ms: number; bytes: number }> {
  const orchestratorId = `bench_orch_${runId}`;
  const raw = travelDetailsFor(n, runId, root);
  await store.insert({ taskId: orchestratorId, taskType: 'travel_orchestrator', params: { orchestrator_details: raw }, runId, queueName: CPU_QUEUE });
  const { job, token } = await activeParent(w.queue, w.worker, orchestratorId, { taskType: 'travel_orchestrator', params: { orchestrator_details: raw }, runId });
  const t0 = performance.now();
  const details = parseOrchestratorDetails(raw, { fallbackRunId: orchestratorId, outputRoot: root });
  const plan = await planFromRows(details, { store, taskId: orchestratorId });
  const tree = shape(plan.tree, details);
  await createFlowControl(job, token, { store, flowProducer: w.flowProducer, queues: w.dispatcher }).addChildren(tree);
  const ms = performance.now() - t0;
  const rows = await store.listByRun(runId);
  // The orchestrator plus n segments and the stitch: anything less means the plan did not land.
  if (rows.length !== n + 2) throw new Error(`bench: smq fan-out of ${n} wrote ${rows.length} rows, expected ${n + 2}`);
  return { ms, bytes: dataBytes(tree) };
}

async function rawOnce(w: World, n: number, runId: string, root: string, shape: Shape): Promise<number> {
  const orchestratorId = `bench_orch_${runId}`;
  const raw = travelDetailsFor(n, runId, root);
  // The same tree smq plans, built before the clock starts: a raw user already has it in hand.
  const details = parseOrchestratorDetails(raw, { fallbackRunId: orchestratorId, outputRoot: root });
  const plan = await planFromRows(details, { store: EMPTY_STORE, taskId: orchestratorId });
  const { job } = await activeParent(w.queue, w.worker, orchestratorId, { taskType: 'travel_orchestrator', params: { orchestrator_details: raw }, runId });
  const trees = shape(plan.tree, details).map((t) => rawFlow(t, w.prefix));
  const t0 = performance.now();
  for (const t of trees) await w.flowProducer.add({ ...t, opts: { ...t.opts, parent: { id: job.id!, queue: job.queueQualifiedName } } });
  return performance.now() - t0;
}

/** planFromRows only reads rows; a fresh run has none. */
const EMPTY_STORE = { getMany: async () => [] } as unknown as TaskStore;

export async function benchFanOut(opts: FanOutBenchOptions): Promise<FanOutRow[]> {
  const store = await openStore(benchConfig(path.join(opts.workDir, `fanout-${Date.now()}.db`), '{unused}'));
  // Paths in the details are only strings here; a short, realistic root keeps their size typical.
  const root = '/srv/smq/outputs';
  const shape = opts.payload === 'lean' ? planned : seedPayload;
  const smqWorld = world('smq-fanout');
  const rawWorld = world('raw-fanout');
  let run = 0;
  try {
    // Warm-up: JIT, connections, Lua script loading on both sides.
    await smqOnce(smqWorld, store, 5, `warm${run++}`, root, shape);
    await rawOnce(rawWorld, 5, `warm${run++}`, root, shape);
    const rows: FanOutRow[] = [];
    for (const n of opts.sizes) {
      const reps = opts.repeats ?? (n < 1000 ? 7 : opts.payload === 'lean' ? 3 : 1);
      const smqMs: number[] = [];
      const rawMs: number[] = [];
      let bytes = 0;
      for (let r = 0; r < reps; r++) {
        // Alternate which side goes first, so neither always runs on a warmer (or busier) Redis.
        const doSmq = async () => {
          const s = await smqOnce(smqWorld, store, n, `fan${n}x${run++}`, root, shape);
          smqMs.push(s.ms);
          bytes = s.bytes;
        };
        const doRaw = async () => rawMs.push(await rawOnce(rawWorld, n, `fan${n}x${run++}`, root, shape));
        if (r % 2 === 0) {
          await doRaw();
          await doSmq();
        } else {
          await doSmq();
          await doRaw();
        }
      }
      const s = median(smqMs);
      const rw = median(rawMs);
      rows.push({ segments: n, smqMs: round(s, 2), rawMs: round(rw, 2), smqMsPerSegment: round(s / n), rawMsPerSegment: round(rw / n), treeDataBytes: bytes, tree: opts.payload === 'lean' ? 'planned' : 'seed payload' });
    }
    return rows;
  } finally {
    await closeWorld(smqWorld);
    await closeWorld(rawWorld);
    await store.close();
  }
}
