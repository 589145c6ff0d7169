import type { Redis } from 'ioredis';
import type { SmqConfig } from '../../core/config.ts';
import type { TaskStore } from '../../db/task-store.ts';
import { Dispatcher } from '../../flows/dispatch.ts';
import { cancel, retry } from '../../producers/control.ts';
import type { ProducerDeps } from '../../producers/deps.ts';
import type { TaskControl } from './handler.ts';

/**
 * Binds the dashboard's buttons to producers' control.ts — the functions `smq cancel|retry` call —
 * over the dashboard's own store and Redis connection. control.ts addresses a run by any of its
 * task ids, so cancelling a segment cancels its run, exactly as the CLI does.
 */
export async function openTaskControl(config: SmqConfig, store: TaskStore, connection: Redis): Promise<TaskControl & { close(): Promise<void> }> {
  const dispatcher = new Dispatcher(connection, config.queuePrefix);
  const deps: ProducerDeps = { store, dispatcher, config, redis: connection };
  return {
    cancel: (id) => cancel(id, deps),
    retry: (id) => retry(id, deps),
    close: () => dispatcher.close(),
  };
}
