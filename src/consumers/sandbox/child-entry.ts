/**
 * Entry of a task's child process (forked by child-process.ts). It receives one task over IPC,
 * builds a HandlerContext with its own store connection and engines, runs the handler, and sends
 * progress and the result (or the error) back. It leads its own process group; if the worker goes
 * away (IPC disconnect: SIGKILL, crash) it takes the group down with it instead of running on as
 * an orphan that would race the worker that takes the job over.
 */
import { UnrecoverableError } from 'bullmq';
import { UnknownTaskTypeError } from '../../core/errors.ts';
import { buildHandlerContext, noFlowControl } from '../context.ts';
import { loadHandlerRegistry } from '../handlers/registry.ts';
import { createWorkerLogger } from '../logger.ts';
import { serializeError } from './job-errors.ts';
import type { ChildMessage, ParentMessage } from './protocol.ts';
import { createWorkerServices } from './services.ts';
import { formatParamsError } from './validate-params.ts';

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, undefined, () => resolve());
  });
}

function killOwnGroup(): never {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    // not a group leader (should not happen): just go
  }
  process.exit(1);
}

process.on('disconnect', killOwnGroup);

process.once('message', (raw) => {
  const msg = raw as ParentMessage;
  if (msg.type !== 'run') return;
  void runTask(msg.spec).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
});

async function runTask(spec: Extract<ParentMessage, { type: 'run' }>['spec']): Promise<number> {
  const log = createWorkerLogger({ name: spec.workerName, level: spec.logLevel }).child({ taskId: spec.taskId, taskType: spec.taskType, child: true });
  const services = createWorkerServices(spec.services);
  const controller = new AbortController();
  let code = 0;
  try {
    const registry = await loadHandlerRegistry({ plugins: spec.pluginModules, only: spec.taskType });
    const handler = registry.get(spec.taskType);
    if (!handler) throw new UnrecoverableError(new UnknownTaskTypeError(spec.taskType).message);
    const parsed = handler.schema.safeParse(spec.params);
    if (!parsed.success) throw new UnrecoverableError(formatParamsError(spec.taskType, parsed.error));
    await services.ready();
    const ctx = buildHandlerContext({
      taskId: spec.taskId,
      taskType: spec.taskType,
      runId: spec.runId,
      parentTaskId: spec.parentTaskId,
      attemptsMade: spec.attemptsMade,
      outputRoot: spec.services.outputRoot,
      debug: spec.debug,
      config: spec.services.config,
      signal: controller.signal,
      log,
      progress: (update) => send({ type: 'progress', update }),
      children: async () => spec.children,
      flow: noFlowControl(spec.taskType),
      services,
    });
    const result = await handler.run(parsed.data, ctx);
    await send({ type: 'result', result });
  } catch (err) {
    code = 0;
    await send({ type: 'error', error: serializeError(err) });
  }
  try {
    await services.close();
  } catch (err) {
    log.warn({ err }, 'closing child services failed');
  }
  return code;
}

void send({ type: 'ready' });
