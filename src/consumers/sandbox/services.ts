import { EngineError } from '../../core/errors.ts';
import type { EngineRegistry } from '../engines/engine.ts';
import type { OutputStorage } from '../handlers/types.ts';
import { lazy, lazyStore, type WorkerServices } from '../context.ts';
import type { ServiceSpec } from './protocol.ts';

/**
 * Opens the store, engines and output storage a worker (or a task's child process) lends to
 * handlers. The modules are imported on `ready()` and the connections opened on first use, so a
 * child running a cheap task pays for neither.
 */
export interface OpenedServices extends WorkerServices {
  /** Imports the engine and storage modules; must resolve before `engines`/`outputs` are read. */
  ready(): Promise<void>;
}

export function createWorkerServices(spec: ServiceSpec): OpenedServices {
  const store = lazyStore(spec.config, async () => {
    const { openStore } = await import('../../db/open-store.ts');
    return openStore(spec.config, spec.storeSchema ? { schema: spec.storeSchema } : {});
  });
  let makeEngines: (() => EngineRegistry) | undefined;
  let makeOutputs: (() => OutputStorage) | undefined;
  const engines = lazy(() => {
    if (!makeEngines) throw new Error('worker services used before ready()');
    return makeEngines();
  });
  const outputs = lazy(() => {
    if (!makeOutputs) throw new Error('worker services used before ready()');
    return makeOutputs();
  });
  let readying: Promise<void> | undefined;
  return {
    get store() {
      return store.store;
    },
    get engines() {
      return engines.get();
    },
    get outputs() {
      return outputs.get();
    },
    ready() {
      return (readying ??= (async () => {
        const { createOutputStorage } = await import('../storage/output-storage.ts');
        makeOutputs = () => createOutputStorage(spec.config);
        // A broken engine module must not stop a worker from running CPU tasks: the error
        // surfaces on the first task that asks for an engine.
        try {
          const { createEngineRegistry } = await import('../engines/registry.ts');
          const wgp = spec.engineOptions.wgp as Record<string, unknown> | undefined;
          makeEngines = () =>
            createEngineRegistry(spec.engines, {
              gpu: spec.gpu ?? undefined,
              wgpOverrides: wgp ? Object.fromEntries(Object.entries(wgp).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)])) : undefined,
              comfyuiOutputPath: spec.config.comfyuiOutputPath,
              ...(spec.engineOptions.engineRegistry as object | undefined),
            });
        } catch (err) {
          const why = (err as Error).message;
          makeEngines = () => {
            throw new EngineError(`the engine modules could not be loaded: ${why}`);
          };
        }
      })());
    },
    async close() {
      const results = await Promise.allSettled([store.close(), engines.ifCreated()?.close()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
  };
}
