import express, { type NextFunction, type Request, type Response } from 'express';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { SmqConfig } from '../../core/config.ts';
import { SmqError } from '../../core/errors.ts';
import type { TaskStore } from '../../db/task-store.ts';
import { ALL_QUEUES } from '../../flows/queues.ts';
import { SmqMetrics } from '../metrics.ts';
import { authenticate, hasCredentials, isReadOnlyMethod, type DashboardAuth, type Role } from './auth.ts';
import { route, send } from './express-adapter.ts';
import type { DashboardDeps, TaskControl } from './handler.ts';
import { escapeHtml, html, layout } from './html.ts';
import { cancelRun, cancelTask, retryRun, retryTask } from './handlers/actions.ts';
import { serveFile } from './handlers/files.ts';
import { healthz, readyz } from './handlers/health.ts';
import { apiRun, apiRuns, runPage, runsPage } from './handlers/runs.ts';
import { loginPage, loginSubmit, logout } from './handlers/session.ts';
import { apiTask, apiTasks, taskPage } from './handlers/tasks.ts';

export interface DashboardOptions {
  config: SmqConfig;
  store: TaskStore;
  /** A shared ioredis connection (maxRetriesPerRequest null); the caller owns and closes it. */
  connection: Redis;
  control: TaskControl;
  auth: DashboardAuth;
  /** Request body limit, default 100 kB; larger bodies get 413. */
  bodyLimitBytes?: number;
}

export interface DashboardApp {
  app: express.Express;
  /** Closes the BullMQ Queue objects the app made (not the shared connection or the store). */
  close(): Promise<void>;
}

export const BOARD_PATH = '/admin/queues';
/** Routes anyone may call: probes must work without secrets, and /login is the way in. */
export const PUBLIC_ROUTES = ['/healthz', '/readyz', '/login'] as const;

const DEFAULT_BODY_LIMIT = 100 * 1024;

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.path.startsWith(`${BOARD_PATH}/api/`) || req.path === '/metrics' || req.path === '/files' || !req.accepts('html');
}

/** Raw path segments equal to ".." (also percent-encoded) or NUL bytes never reach a route. */
export function isTraversal(rawUrl: string): boolean {
  const rawPath = rawUrl.split('?')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return true;
  }
  return decoded.includes('\0') || decoded.split(/[\\/]+/).includes('..') || rawPath.split('/').includes('..');
}

export function createDashboardApp(opts: DashboardOptions): DashboardApp {
  const { config, store, connection, control, auth } = opts;
  const limit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const credentialsConfigured = hasCredentials(auth);
  // skipMetasUpdate: a dashboard must not rewrite queue settings (events maxLen) that producers own.
  const queues = new Map<string, Queue>(ALL_QUEUES.map((name) => [name, new Queue(name, { connection, prefix: config.queuePrefix, skipMetasUpdate: true })]));
  // A dropped Redis is reported by /readyz and /metrics; unhandled queue errors would only spam stderr.
  for (const q of queues.values()) q.on('error', () => {});
  const deps: DashboardDeps = { config, store, redis: connection, queues, control, credentialsConfigured };
  const metrics = new SmqMetrics({ queues, store, redis: connection, prefix: config.queuePrefix });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req, res, next) => {
    if (isTraversal(req.originalUrl)) {
      res.status(400).json({ error: 'path traversal ("..") is not allowed in URLs' });
      return;
    }
    next();
  });

  // Refused before any parser reads it, so a huge upload costs nothing; the parsers' own limit
  // covers chunked bodies that carry no Content-Length.
  app.use((req, res, next) => {
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > limit) {
      res.status(413).json({ error: `request body is ${len} bytes; the limit is ${limit} bytes` });
      return;
    }
    next();
  });

  const jsonBody = express.json({ limit });
  const formBody = express.urlencoded({ limit, extended: false });

  app.get('/healthz', route(healthz, deps));
  app.get('/readyz', route(readyz, deps));
  app.get('/login', (req, res) => send(res, loginPage(auth, { query: req.query as Record<string, string> })));
  app.post('/login', formBody, jsonBody, (req, res) => {
    if (!credentialsConfigured) return res.redirect(303, '/runs');
    send(res, loginSubmit(auth, (req.body ?? {}) as Record<string, unknown>, req.secure));
  });

  app.use((req, res, next) => {
    const role: Role | null = authenticate({ authorization: req.headers.authorization, cookie: req.headers.cookie }, auth);
    if (!role) {
      res.setHeader('WWW-Authenticate', auth.user ? 'Bearer realm="smq", Basic realm="smq"' : 'Bearer realm="smq"');
      if (wantsJson(req)) {
        res.status(401).json({ error: 'authentication required: send Authorization: Bearer <SMQ_DASHBOARD_TOKEN> (or HTTP basic), or sign in at /login' });
      } else {
        send(res, loginPage(auth, { query: { next: req.originalUrl } }, 401));
      }
      return;
    }
    if (role === 'readonly' && !isReadOnlyMethod(req.method) && req.path !== '/logout') {
      res.status(403).json({ error: 'read-only token: this action is not allowed (sign in with SMQ_DASHBOARD_TOKEN to change things)' });
      return;
    }
    res.locals.role = role;
    next();
  });
  app.use(jsonBody, formBody);

  app.post('/logout', (req, res) => send(res, logout(req.secure)));
  app.get('/', (_req, res) => res.redirect(302, '/runs'));
  app.get('/runs', route(runsPage, deps));
  app.get('/runs/:run_id', route(runPage, deps));
  app.get('/tasks/:task_id', route(taskPage, deps));
  app.get('/files', route(serveFile, deps));
  app.get('/api/runs', route(apiRuns, deps));
  app.get('/api/runs/:run_id', route(apiRun, deps));
  app.get('/api/tasks', route(apiTasks, deps));
  app.get('/api/tasks/:task_id', route(apiTask, deps));
  app.post('/api/runs/:run_id/cancel', route(cancelRun, deps));
  app.post('/api/runs/:run_id/retry', route(retryRun, deps));
  app.post('/api/tasks/:task_id/cancel', route(cancelTask, deps));
  app.post('/api/tasks/:task_id/retry', route(retryTask, deps));
  app.get('/metrics', (_req, res, next) => {
    metrics.render().then((text) => {
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).type(metrics.contentType).send(text);
    }, next);
  });

  const board = new ExpressAdapter();
  board.setBasePath(BOARD_PATH);
  createBullBoard({ queues: [...queues.values()].map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'smq queues' } } });
  app.use(BOARD_PATH, board.getRouter());

  app.use((req, res) => {
    if (wantsJson(req)) res.status(404).json({ error: `no route ${req.method} ${req.path}` });
    else res.status(404).type('html').send(layout('Not found', html`<h2>Not found</h2><p>No page at <code>${req.path}</code>. <a href="/runs">Runs</a></p>`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    let status = 500;
    let message = 'internal error';
    if (e?.type === 'entity.too.large') {
      status = 413;
      message = `request body is larger than the ${limit}-byte limit`;
    } else if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      status = e.status;
      message = e.message ?? 'bad request';
    } else if (err instanceof SmqError && (err.code === 'VALIDATION' || err.code === 'CONFIG')) {
      status = 400;
      message = err.message;
    } else if (err instanceof SmqError && err.code === 'NOT_FOUND') {
      status = 404;
      message = err.message;
    } else {
      message = err instanceof Error ? err.message : String(err);
    }
    if (res.headersSent) return;
    if (wantsJson(req)) res.status(status).json({ error: message });
    else res.status(status).type('html').send(`<!doctype html><title>error</title><h2>Error ${status}</h2><p class="error-banner">${escapeHtml(message)}</p>`);
  });

  return {
    app,
    close: async () => {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
