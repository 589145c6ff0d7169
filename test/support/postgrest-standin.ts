import http from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres, { type Sql } from 'postgres';

/**
 * A stand-in for Supabase's REST gateway (Kong + PostgREST), RPC part only, faithful to
 * shared/notes/protocols.md §1: `POST /rest/v1/rpc/<fn>` with a JSON object of named arguments
 * (GET with query-string arguments too), `apikey` and `Authorization: Bearer` checked, the function
 * found in pg_proc by name and argument names, executed on the real PostgreSQL with named-argument
 * notation, answered the way PostgREST answers (204 for void, JSON arrays for sets, bare values for
 * scalars) and errors as `{code,message,details,hint}` with PostgREST's SQLSTATE→HTTP mapping.
 *
 * What it does not do: JWT roles/RLS (the service key is the only key), tables/views endpoints,
 * Prefer headers other than ignoring them, and overloaded functions beyond "first match".
 */
export interface PostgrestStandinOptions {
  /** PostgreSQL URL the calls run on. */
  databaseUrl: string;
  /** Schema exposed as the API's `public` profile (search_path for every call). */
  schema: string;
  /** The service key: required as `apikey` and as the Bearer token. */
  apiKey: string;
}

export interface PostgrestStandin {
  url: string;
  close(): Promise<void>;
}

interface ProcInfo {
  argNames: string[];
  argTypes: string[];
  required: number;
  returnsSet: boolean;
  isVoid: boolean;
  isComposite: boolean;
}

interface ApiError {
  status: number;
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

/** PostgREST's mapSQLtoHTTP (Error.hs), as summarised in protocols.md §1. */
export function httpStatusForSqlState(code: string): number {
  if (code === '42883' || code === '42P01') return 404;
  if (code === 'P0001') return 400;
  if (code.startsWith('P0')) return 500;
  if (code === '23505' || code === '23503') return 409;
  if (code === '42501') return 403; // service role is not the anon role
  if (code === '25006') return 405;
  if (code.startsWith('08') || (code.startsWith('53') && code !== '53400') || code === '57P01') return 503;
  if (code.startsWith('57')) return 500;
  if (/^(09|25|2D|38|39|3B|40|54|55|58|F0|HV|XX)/.test(code)) return 500;
  if (/^(28|0L|0P)/.test(code)) return 403;
  const pt = /^PT(\d{3})$/.exec(code);
  if (pt) return Number(pt[1]);
  return 400;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function startPostgrestStandin(opts: PostgrestStandinOptions): Promise<PostgrestStandin> {
  if (!IDENT.test(opts.schema)) throw new Error(`schema ${JSON.stringify(opts.schema)} is not a plain identifier`);
  const sql: Sql = postgres(opts.databaseUrl, { max: 4, onnotice: () => {}, connection: { search_path: opts.schema } });

  async function findProc(fn: string, keys: string[]): Promise<ProcInfo | null> {
    const procs = await sql`
      SELECT p.proargnames AS names, p.proargmodes::text[] AS modes, p.pronargs AS nargs, p.pronargdefaults AS ndefaults,
             p.proretset AS retset, p.prorettype = 'void'::regtype AS is_void,
             (t.typtype = 'c' OR p.prorettype = 'record'::regtype) AS is_composite,
             ARRAY(SELECT format_type(a, NULL) FROM unnest(p.proargtypes) AS a) AS types
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_type t ON t.oid = p.prorettype
      WHERE n.nspname = ${opts.schema} AND p.proname = ${fn}`;
    for (const p of procs) {
      const names = (p.names as string[] | null) ?? [];
      const modes = p.modes as string[] | null;
      const inputNames = modes ? names.filter((_, i) => ['i', 'b', 'v'].includes(modes[i])) : names.slice(0, p.nargs as number);
      const required = (p.nargs as number) - (p.ndefaults as number);
      const known = new Set(inputNames);
      if (!keys.every((k) => known.has(k))) continue;
      if (!inputNames.slice(0, required).every((n) => keys.includes(n))) continue;
      return {
        argNames: inputNames,
        argTypes: p.types as string[],
        required,
        returnsSet: p.retset as boolean,
        isVoid: p.is_void as boolean,
        isComposite: p.is_composite as boolean,
      };
    }
    return null;
  }

  function notFound(fn: string, keys: string[]): ApiError {
    const sorted = [...keys].sort();
    const withParams = sorted.length ? `with parameters ${sorted.join(', ')}` : 'without parameters';
    return {
      status: 404,
      code: 'PGRST202',
      message: `Could not find the function public.${fn}(${sorted.join(', ')}) in the schema cache`,
      details: `Searched for the function public.${fn} ${withParams} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
      hint: null,
    };
  }

  async function runRpc(fn: string, args: Record<string, unknown>, readOnly: boolean): Promise<{ status: number; body: string | null }> {
    const keys = Object.keys(args);
    const proc = IDENT.test(fn) ? await findProc(fn, keys) : null;
    if (!proc) throw notFound(fn, keys);
    const params: (string | null)[] = [];
    const named = keys.map((k) => {
      const type = proc.argTypes[proc.argNames.indexOf(k)];
      const v = args[k];
      // PostgREST hands json/jsonb arguments over as JSON text and everything else as its text form.
      params.push(v === null || v === undefined ? null : type === 'json' || type === 'jsonb' || typeof v === 'object' ? JSON.stringify(v) : String(v));
      // Bound as text and cast server-side: the driver would JSON-encode a string bound to jsonb again.
      return `"${k}" => $${params.length}::text::${type}`;
    });
    const call = `"${opts.schema}"."${fn}"(${named.join(', ')})`;
    // Like PostgREST, let PostgreSQL build the JSON so numbers, timestamps and nulls encode as they do there.
    const query = proc.isVoid
      ? `SELECT ${call}`
      : proc.returnsSet
        ? `SELECT coalesce(json_agg(_r), '[]')::text AS body FROM ${call} AS _r`
        : proc.isComposite
          ? `SELECT to_json(_r)::text AS body FROM ${call} AS _r`
          : `SELECT to_json(${call})::text AS body`;
    const rows = await sql.begin(readOnly ? 'read only' : 'read write', (tx) => tx.unsafe(query, params));
    if (proc.isVoid) return { status: 204, body: null };
    return { status: 200, body: (rows[0]?.body as string | undefined) ?? 'null' };
  }

  function send(res: http.ServerResponse, status: number, body: string | null, extra: Record<string, string> = {}): void {
    const headers: Record<string, string> = { ...extra };
    if (body !== null) headers['Content-Type'] = 'application/json; charset=utf-8';
    res.writeHead(status, headers);
    res.end(body ?? undefined);
  }

  function sendError(res: http.ServerResponse, e: ApiError, extra: Record<string, string> = {}): void {
    send(res, e.status, JSON.stringify({ code: e.code, details: e.details, hint: e.hint, message: e.message }), extra);
  }

  function authorised(req: http.IncomingMessage): boolean {
    return req.headers.apikey === opts.apiKey && req.headers.authorization === `Bearer ${opts.apiKey}`;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://standin');
        const m = /^\/rest\/v1\/rpc\/([^/]+)$/.exec(url.pathname);
        if (!m) return sendError(res, { status: 404, code: 'PGRST125', message: `Invalid path specified in request URL`, details: null, hint: null });
        if (!authorised(req)) {
          return sendError(res, { status: 401, code: 'PGRST301', message: 'No suitable key or wrong key type', details: null, hint: null }, { 'WWW-Authenticate': 'Bearer' });
        }
        const profile = (req.method === 'POST' ? req.headers['content-profile'] : req.headers['accept-profile']) as string | undefined;
        if (profile !== undefined && profile !== 'public') {
          return sendError(res, { status: 406, code: 'PGRST106', message: `Invalid schema: ${profile}`, details: null, hint: 'Only the following schemas are exposed: public' });
        }
        let args: Record<string, unknown>;
        if (req.method === 'POST') {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            args = text.trim() === '' ? {} : JSON.parse(text);
          } catch (err) {
            return sendError(res, { status: 400, code: 'PGRST102', message: 'Empty or invalid json', details: (err as Error).message, hint: null });
          }
          if (args === null || typeof args !== 'object' || Array.isArray(args)) {
            return sendError(res, { status: 400, code: 'PGRST102', message: 'Empty or invalid json', details: 'expected a JSON object of named arguments', hint: null });
          }
        } else if (req.method === 'GET' || req.method === 'HEAD') {
          args = Object.fromEntries(url.searchParams);
        } else {
          return sendError(res, { status: 405, code: 'PGRST101', message: 'Only GET, HEAD and POST are allowed for functions', details: null, hint: null });
        }
        try {
          const out = await runRpc(decodeURIComponent(m[1]), args, req.method !== 'POST');
          send(res, out.status, req.method === 'HEAD' ? null : out.body);
        } catch (err) {
          if ((err as ApiError).status !== undefined && (err as ApiError).code !== undefined) return sendError(res, err as ApiError);
          const e = err as { code?: string; message?: string; detail?: string; hint?: string };
          const code = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : 'PGRST000';
          const status = code === 'PGRST000' ? 503 : httpStatusForSqlState(code);
          sendError(res, { status, code, message: e.message ?? String(err), details: e.detail ?? null, hint: e.hint ?? null });
        }
      })().catch((err) => {
        if (!res.headersSent) sendError(res, { status: 500, code: 'XX000', message: String(err), details: null, hint: null });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sql.end({ timeout: 5 });
    },
  };
}
