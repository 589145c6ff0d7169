import type { AddressInfo } from 'node:net';
import http from 'node:http';
import type { Redis } from 'ioredis';
import type { SmqConfig } from '../../core/config.ts';
import { createRedis } from '../../core/redis.ts';
import { openStore } from '../../db/open-store.ts';
import type { TaskStore } from '../../db/task-store.ts';
import { createDashboardApp } from './app.ts';
import { authFromEnv, checkStartupAuth, type DashboardAuth } from './auth.ts';
import { openTaskControl } from './control-binding.ts';
import type { TaskControl } from './handler.ts';

export interface StartDashboardOptions {
  config: SmqConfig;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 3000 */
  port?: number;
  /** @defaultValue authFromEnv() (SMQ_DASHBOARD_* variables) */
  auth?: DashboardAuth;
  /** Shared resources; when given, the caller closes them. */
  store?: TaskStore;
  connection?: Redis;
  control?: TaskControl;
  /** Where the open-dashboard warning and the URL are printed. @defaultValue stderr */
  log?: (line: string) => void;
}

export interface RunningDashboard {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the dashboard's HTTP server. The credential check runs before anything is opened, so a
 * misconfigured public bind fails fast with the variables to set.
 */
export async function startDashboard(opts: StartDashboardOptions): Promise<RunningDashboard> {
  const host = opts.host ?? '127.0.0.1';
  const auth = opts.auth ?? authFromEnv();
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { warning } = checkStartupAuth(host, auth);
  if (warning) log(`warning: ${warning}`);

  const cleanups: (() => Promise<void>)[] = [];
  try {
    const store = opts.store ?? (await openStore(opts.config));
    if (!opts.store) cleanups.push(() => store.close());
    let connection = opts.connection;
    if (!connection) {
      const own = createRedis(opts.config.redisUrl);
      // Readiness reports a dropped Redis; it must not crash the process.
      own.on('error', () => {});
      connection = own;
      cleanups.push(async () => void own.disconnect());
    }
    let control = opts.control;
    if (!control) {
      const opened = await openTaskControl(opts.config, store, connection);
      control = opened;
      cleanups.push(() => opened.close());
    }
    const dash = createDashboardApp({ config: opts.config, store, connection, control, auth });
    cleanups.unshift(() => dash.close());
    const server = http.createServer(dash.app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 3000, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shownHost}:${port}`,
      host,
      port,
      close: async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        for (const c of cleanups) await c().catch(() => {});
      },
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}
