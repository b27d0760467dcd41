import { html, type Html } from '../layout.js'
import { passkeyForm } from './passkey-form.js'

export interface SecurityPageValues {
  email: string
  totpActive: boolean
  passkeys: { id: string; name: string; createdAt: Date; lastUsedAt: Date | null }[]
  csrf: string
  logoutCsrf: string
  /** What the last change did, announced. */
  notice?: { text: string; role: 'status' | 'alert' }
}

const day = (date: Date) => date.toISOString().slice(0, 10)

/** The account's security page: its second factors, passkeys, and logging out. */
export function accountSecurity({ email, totpActive, passkeys, csrf, logoutCsrf, notice }: SecurityPageValues): Html {
  return html`<p>Logged in as <strong>${email}</strong>.</p>
${notice ? html`<div role="${notice.role}"><p>${notice.text}</p></div>` : undefined}
<h2>Authenticator app</h2>
${totpActive
    ? html`<p>On: logins ask for a code from your authenticator app.</p>`
    : html`<p>Off. An authenticator app adds a code to every login, so a stolen password is not enough.</p>
<form method="post" action="/account/security/totp">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Set up an authenticator app</button>
</form>`}
<h2>Passkeys</h2>
${passkeys.length > 0
    ? html`<p>Logins ask for one of these after your password; one kept on your device can also log you in without it:</p>
<ul>${passkeys.map((p) => html`<li>${p.name}: added ${day(p.createdAt)}, ${p.lastUsedAt ? html`last used ${day(p.lastUsedAt)}` : 'not used yet'}
<form method="post" action="/account/security/passkeys/${p.id}/remove"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" aria-label="Remove ${p.name}">Remove</button></form></li>`)}</ul>`
    : html`<p>None. A passkey on your phone or computer logs you in without a password, and cannot be phished.</p>`}
${passkeyForm({
    ceremony: 'create', action: '/account/security/passkeys', options: '/account/security/passkeys/options', fields: { csrf },
    button: html`<label for="passkey-name">Name for the new passkey</label>
<input id="passkey-name" name="name" type="text" maxlength="100" placeholder="My laptop">
<button type="submit">Add a passkey</button>`,
    failed: 'No passkey was added. Try again.',
  })}
<noscript><p>Adding a passkey needs JavaScript, which is off in this browser.</p></noscript>
<h2>Log out</h2>
<form method="post" action="/account/logout">
<input type="hidden" name="csrf" value="${logoutCsrf}">
<button type="submit">Log out everywhere you logged in here</button>
</form>`
}

/** Enrollment: the QR code (an SVG made here, no script), the secret for typing, and the first code. */
export function totpEnrollment({ qrSvg, secret, csrf, error }: { qrSvg: string; secret: string; csrf: string; error?: string }): Html {
  return html`<p>Scan this code with your authenticator app, or type the key below into it. Then enter the code it shows.</p>
<figure aria-label="QR code of the key for your authenticator app">${{ html: qrSvg }}</figure>
<p>Key: <code>${secret.replace(/(.{4})/g, '$1 ').trim()}</code></p>
${error ? html`<div role="alert" id="code-error"><p>${error}</p></div>` : undefined}
<form method="post" action="/account/security/totp/confirm">
<input type="hidden" name="csrf" value="${csrf}">
<label for="code">Code from the app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="10"${error ? html` aria-describedby="code-error" aria-invalid="true"` : undefined} autofocus>
<button type="submit">Turn it on</button>
</form>`
}

/** The recovery codes, shown once, after what gave them: `done`, and the factor they stand in for. */
export function recoveryCodesShown(codes: string[], done: string, factor: string): Html {
  return html`<div role="status"><p>${done}</p></div>
<p>Keep these recovery codes somewhere safe. Each one logs you in once if you lose ${factor}. They are shown only now.</p>
<ul>${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<p><a href="/account/security">Back to your account</a></p>`
}
