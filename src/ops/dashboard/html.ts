/**
 * Server-rendered HTML with no template engine: `html` is a tagged template that escapes every
 * interpolated value unless it is already a `SafeHtml` (built by `html` itself), so forgetting to
 * escape is not possible by accident.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

type Part = SafeHtml | string | number | boolean | null | undefined | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (Array.isArray(part)) return part.map(render).join('');
  if (part instanceof SafeHtml) return part.value;
  return escapeHtml(part);
}

export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Query string from pairs, skipping empty values. */
export function qs(params: Record<string, string | null | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header .brand{font-weight:700;color:#fff}
main{padding:16px 20px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0 16px}
th,td{border:1px solid #dde1e7;padding:5px 8px;text-align:left;font-size:14px;vertical-align:top}
th{background:#eef1f5}
.st{padding:1px 6px;border-radius:8px;font-size:12px;white-space:nowrap}
.st-Complete{background:#d5f5dd}.st-Failed{background:#fadbd8}.st-In-Progress{background:#fff2c6}
.st-Queued{background:#e3e8ef}.st-Cancelled{background:#e9e0f5}
.bar{background:#e3e8ef;width:120px;height:10px;border-radius:5px;display:inline-block;vertical-align:middle}
.bar>span{display:block;height:10px;border-radius:5px;background:#3c8dde}
form.inline{display:inline}
pre{background:#fff;border:1px solid #dde1e7;padding:8px;overflow:auto;font-size:12px;max-height:400px}
.muted{color:#6b7380}.notice{background:#fff8dc;border:1px solid #e6d9a5;padding:6px 10px}
video{max-width:480px;background:#000}
input,select,button{font-size:14px;padding:3px 6px}
`;

export function layout(title: string, body: SafeHtml, opts: { role?: string | null; notice?: string | null } = {}): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><title>${title} · smq</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>${new SafeHtml(STYLE)}</style></head>
<body><header><span class="brand">smq</span><a href="/runs">Runs</a><a href="/admin/queues">Queues (Bull Board)</a><a href="/metrics">Metrics</a>
${opts.role ? html`<span class="muted">signed in: ${opts.role}</span> <form class="inline" method="post" action="/logout"><button type="submit">Log out</button></form>` : ''}</header>
<main>${opts.notice ? html`<p class="notice">${opts.notice}</p>` : ''}${body}</main></body></html>`.value}`;
}
