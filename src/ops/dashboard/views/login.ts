import { html, type SafeHtml } from '../html.ts';

export function loginForm(opts: { error?: string | null; next?: string | null; basic: boolean; token: boolean }): SafeHtml {
  return html`<h2>Sign in</h2>${opts.error ? html`<p class="notice err-msg">${opts.error}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${opts.next ?? '/runs'}">
${opts.token ? html`<p><label>Token <input type="password" name="token" autocomplete="current-password" size="40"></label></p>` : ''}
${opts.basic ? html`<p><label>User <input name="user" autocomplete="username"></label> <label>Password <input type="password" name="password" autocomplete="current-password"></label></p>` : ''}
<button type="submit">Sign in</button></form>
<p class="muted">Scripts can send <code>Authorization: Bearer &lt;token&gt;</code> or HTTP basic instead.</p>`;
}
