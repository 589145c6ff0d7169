// Baseline for the idle-worker RSS bench: the smallest BullMQ worker on the same queues an smq
// worker serves by default, in plain node (no tsx). Prints "ready" once its workers are connected.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.SMQ_QUEUE_PREFIX ?? '{smq}';
const queues = (process.env.BENCH_QUEUES ?? 'cpu,gpu-onnx').split(',');
const connections = [];
const workers = queues.map((q) => {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  connections.push(connection);
  return new Worker(q, async () => ({ output_location: null }), { connection, prefix });
});
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await Promise.all(workers.map((w) => w.close()));
  for (const c of connections) c.disconnect();
  process.exit(0);
});
