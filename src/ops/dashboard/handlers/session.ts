import { checkBasic, roleForToken, SESSION_COOKIE, sessionFor, type DashboardAuth } from '../auth.ts';
import { layout } from '../html.ts';
import { localPath, type HandlerResult, type HandlerRequest } from '../handler.ts';
import { loginForm } from '../views/login.ts';

/**
 * `/login` is how a browser gets in: it checks the token (or user and password) once and sets an
 * HttpOnly, SameSite=Strict cookie derived from that credential (see auth.ts). SameSite=Strict is
 * also what keeps the cookie-authenticated buttons safe from cross-site form posts.
 */
function cookie(value: string, opts: { secure: boolean; maxAge: number }): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${opts.maxAge}${opts.secure ? '; Secure' : ''}`;
}

export function loginPage(auth: DashboardAuth, req: Pick<HandlerRequest, 'query'>, status = 200, error: string | null = null): HandlerResult {
  const next = localPath(req.query.next) ?? '/runs';
  const form = loginForm({ error, next, token: auth.token !== null || auth.readonlyToken !== null, basic: auth.user !== null });
  return { status, kind: 'html', body: layout('Sign in', form) };
}

export function loginSubmit(auth: DashboardAuth, body: Record<string, unknown>, secure: boolean): HandlerResult {
  const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '');
  const token = str('token').trim();
  const role = token ? roleForToken(token, auth) : str('user') ? checkBasic(str('user'), str('password'), auth) : null;
  const next = localPath(body.next) ?? '/runs';
  if (!role) return loginPage(auth, { query: { next } }, 401, 'Those credentials were not accepted.');
  const value = sessionFor(role, auth)!;
  return { status: 303, kind: 'redirect', location: next, headers: { 'Set-Cookie': cookie(value, { secure, maxAge: 12 * 3600 }) } };
}

export function logout(secure: boolean): HandlerResult {
  return { status: 303, kind: 'redirect', location: '/login', headers: { 'Set-Cookie': cookie('', { secure, maxAge: 0 }) } };
}
