import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SmqConfig } from '../../core/config.ts';
import type { TaskStore } from '../../db/task-store.ts';
import type { Role } from './auth.ts';

/**
 * Route handlers are plain functions of a small request and the dashboard's dependencies that
 * return a status and a body; only express-adapter.ts knows about express. That keeps every page
 * and API route testable without a server and the framework swappable.
 */
export interface HandlerRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  body: Record<string, unknown>;
  role: Role;
  /** True when the request body arrived as an HTML form (the dashboard's own buttons). */
  fromForm: boolean;
}

export type HandlerResult =
  | { status: number; kind: 'json'; body: unknown; headers?: Record<string, string> }
  | { status: number; kind: 'html'; body: string; headers?: Record<string, string> }
  | { status: number; kind: 'text'; body: string; contentType: string }
  | { status: 200; kind: 'file'; path: string }
  | { status: 303; kind: 'redirect'; location: string; headers?: Record<string, string> };

/** The operations behind the cancel/retry buttons: producers' control.ts, the CLI's own code path. */
export interface TaskControl {
  cancel(taskId: string): Promise<unknown>;
  retry(taskId: string): Promise<unknown>;
}

export interface DashboardDeps {
  config: SmqConfig;
  store: TaskStore;
  redis: Redis;
  /** One BullMQ Queue per smq queue name, sharing the config's prefix. */
  queues: Map<string, Queue>;
  control: TaskControl;
  /** False when the dashboard runs open on loopback (no login, no logout button). */
  credentialsConfigured: boolean;
}

export type Handler = (req: HandlerRequest, deps: DashboardDeps) => Promise<HandlerResult>;

export const json = (status: number, body: unknown): HandlerResult => ({ status, kind: 'json', body });
export const page = (status: number, body: string): HandlerResult => ({ status, kind: 'html', body });
export const redirect = (location: string): HandlerResult => ({ status: 303, kind: 'redirect', location });

/** A redirect target from a form is honoured only if it stays on this site. */
export function localPath(value: unknown): string | null {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return null;
  return value;
}
