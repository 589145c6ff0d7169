import { createHmac, createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from '../../core/errors.ts';

/**
 * Who may use the dashboard, and how a request proves it.
 *
 * Three ways in, all checked in constant time: `Authorization: Bearer <token>`, HTTP basic with
 * the configured user and password, or the session cookie that `/login` sets. The cookie is an
 * HMAC keyed by the credential itself, so it needs no server-side session table, survives a
 * restart, and dies the moment the operator rotates the token or password.
 */
export type Role = 'admin' | 'readonly';

export interface DashboardAuth {
  token: string | null;
  user: string | null;
  password: string | null;
  readonlyToken: string | null;
}

export const SESSION_COOKIE = 'smq_session';

export function authFromEnv(env: NodeJS.ProcessEnv = process.env): DashboardAuth {
  const pick = (k: string) => (env[k] !== undefined && env[k]!.trim() !== '' ? env[k]!.trim() : null);
  const auth: DashboardAuth = {
    token: pick('SMQ_DASHBOARD_TOKEN'),
    user: pick('SMQ_DASHBOARD_USER'),
    password: pick('SMQ_DASHBOARD_PASSWORD'),
    readonlyToken: pick('SMQ_DASHBOARD_READONLY_TOKEN'),
  };
  if ((auth.user === null) !== (auth.password === null)) {
    const missing = auth.user === null ? 'SMQ_DASHBOARD_USER' : 'SMQ_DASHBOARD_PASSWORD';
    throw new ConfigError(missing, `HTTP basic auth needs both SMQ_DASHBOARD_USER and SMQ_DASHBOARD_PASSWORD; set ${missing} too (or unset the other)`);
  }
  if (auth.token !== null && auth.readonlyToken !== null && auth.token === auth.readonlyToken) {
    throw new ConfigError('SMQ_DASHBOARD_READONLY_TOKEN', 'SMQ_DASHBOARD_READONLY_TOKEN must differ from SMQ_DASHBOARD_TOKEN, otherwise the read-only role could not be told apart');
  }
  return auth;
}

export function hasCredentials(auth: DashboardAuth): boolean {
  return auth.token !== null || auth.user !== null || auth.readonlyToken !== null;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Decides whether the server may start on `host`. Open on loopback without credentials (returns a
 * warning to print); refuses anywhere else, because an open dashboard can cancel every run.
 */
export function checkStartupAuth(host: string, auth: DashboardAuth): { open: boolean; warning: string | null } {
  if (hasCredentials(auth)) return { open: false, warning: null };
  if (isLoopbackHost(host)) {
    return {
      open: true,
      warning: `dashboard is OPEN (no credentials configured) on loopback ${host}; set SMQ_DASHBOARD_TOKEN or SMQ_DASHBOARD_USER/SMQ_DASHBOARD_PASSWORD to require login`,
    };
  }
  throw new ConfigError(
    'SMQ_DASHBOARD_TOKEN',
    `refusing to serve the dashboard on non-loopback host ${host} without credentials: set SMQ_DASHBOARD_TOKEN (bearer) or SMQ_DASHBOARD_USER and SMQ_DASHBOARD_PASSWORD (basic), optionally SMQ_DASHBOARD_READONLY_TOKEN, or use --host 127.0.0.1`,
  );
}

/** Constant-time string equality: both sides are hashed first so lengths never leak through timing. */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function sessionValue(role: Role, credential: string): string {
  return `${role}.${createHmac('sha256', credential).update(`smq-dashboard-session:${role}`).digest('base64url')}`;
}

/** Cookie value for a role, or null when no credential for that role is configured. */
export function sessionFor(role: Role, auth: DashboardAuth): string | null {
  if (role === 'readonly') return auth.readonlyToken ? sessionValue('readonly', auth.readonlyToken) : null;
  if (auth.token) return sessionValue('admin', auth.token);
  if (auth.user && auth.password) return sessionValue('admin', `${auth.user}:${auth.password}`);
  return null;
}

export interface Presented {
  authorization?: string | undefined;
  cookie?: string | undefined;
}

/** Role the presented credentials earn, or null. In open mode everybody is admin. */
export function authenticate(p: Presented, auth: DashboardAuth): Role | null {
  if (!hasCredentials(auth)) return 'admin';
  const header = p.authorization?.trim() ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return roleForToken(bearer[1]!.trim(), auth);
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    return checkBasic(decoded.slice(0, colon), decoded.slice(colon + 1), auth);
  }
  const session = readCookie(p.cookie, SESSION_COOKIE);
  if (session) {
    for (const role of ['admin', 'readonly'] as const) {
      const expected = sessionFor(role, auth);
      if (expected !== null && safeEqual(session, expected)) return role;
    }
  }
  return null;
}

export function roleForToken(token: string, auth: DashboardAuth): Role | null {
  // Evaluate both comparisons every time, so the answer's timing does not reveal which matched.
  const admin = auth.token !== null && safeEqual(token, auth.token);
  const ro = auth.readonlyToken !== null && safeEqual(token, auth.readonlyToken);
  return admin ? 'admin' : ro ? 'readonly' : null;
}

export function checkBasic(user: string, password: string, auth: DashboardAuth): Role | null {
  if (auth.user === null || auth.password === null) return null;
  const u = safeEqual(user, auth.user);
  const p = safeEqual(password, auth.password);
  return u && p ? 'admin' : null;
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** Methods that only read; everything else is an action the read-only role may not take. */
export function isReadOnlyMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
