import type { NextFunction, Request, Response } from 'express';
import type { Role } from './auth.ts';
import type { DashboardDeps, Handler, HandlerRequest, HandlerResult } from './handler.ts';

/** The only place that turns express requests into HandlerRequests and HandlerResults into responses. */
export function toHandlerRequest(req: Request, role: Role): HandlerRequest {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') query[k] = v;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.params ?? {})) if (typeof v === 'string') params[k] = v;
  const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  return { params, query, body, role, fromForm: req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded' };
}

export function send(res: Response, result: HandlerResult): void {
  res.setHeader('Cache-Control', 'no-store');
  if ('headers' in result && result.headers) for (const [k, v] of Object.entries(result.headers)) res.setHeader(k, v);
  switch (result.kind) {
    case 'json':
      res.status(result.status).json(result.body);
      return;
    case 'html':
      res.status(result.status).type('html').send(result.body);
      return;
    case 'text':
      res.status(result.status).type(result.contentType).send(result.body);
      return;
    case 'redirect':
      res.redirect(303, result.location);
      return;
    case 'file':
      // sendFile handles Range requests, which <video> needs to seek.
      res.sendFile(result.path, { dotfiles: 'allow', headers: { 'Cache-Control': 'private, max-age=60' } });
      return;
  }
}

export function route(handler: Handler, deps: DashboardDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // The auth middleware always sets the role before any handler runs; 'readonly' is the safe default.
    const role = (res.locals as { role?: Role }).role ?? 'readonly';
    handler(toHandlerRequest(req, role), deps).then((r) => send(res, r), next);
  };
}
