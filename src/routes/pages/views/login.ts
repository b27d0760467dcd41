import { html, type Html } from '../layout.js'
import { passkeyForm } from './passkey-form.js'

export interface LoginFormValues {
  interaction: string
  csrf: string
  /** The application logged in to; none for a login to manage the account. */
  clientName: string | undefined
  email?: string
  /** Why the last password attempt failed, announced to screen readers. */
  error?: string
  /** Why the last passkey was refused: said by the passkey form, leaving the password fields alone. */
  passkeyError?: string
}

/** The hosted login page: email and password, posted back with the interaction it belongs to. */
export function loginForm({ interaction, csrf, clientName, email, error, passkeyError }: LoginFormValues): Html {
  const describedBy = error ? html` aria-describedby="login-error" aria-invalid="true"` : undefined
  return html`<p>${clientName === undefined ? 'Log in to manage your account.' : html`Log in to continue to <strong>${clientName}</strong>.`}</p>
${error ? html`<div role="alert" id="login-error"><p>${error}</p></div>` : undefined}
<form method="post" action="/account/login">
<input type="hidden" name="interaction" value="${interaction}">
<input type="hidden" name="csrf" value="${csrf}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="320" value="${email ?? ''}"${describedBy}${email ? undefined : html` autofocus`}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${describedBy}${email ? html` autofocus` : undefined}>
<button type="submit">Log in</button>
</form>
${passkeyForm({
    ceremony: 'get', action: '/account/login/passkey', options: '/account/login/passkey/options', fields: { interaction, csrf },
    button: html`<button type="submit">Log in with a passkey</button>`,
    failed: 'No passkey was used. Try again, or log in with your password.', error: passkeyError,
  })}`
}

export interface SecondFactorFormValues {
  interaction: string
  csrf: string
  mfaToken: string
  /** The account's active factors: a code form for `totp`, a passkey form for `passkey`. */
  factors: string[]
  error?: string
  /** Why the last passkey was refused, said by the passkey form. */
  passkeyError?: string
}

/** The second step for an account with a second factor: a passkey, a code from the authenticator app, or a recovery code. */
export function secondFactorForm({ interaction, csrf, mfaToken, factors, error, passkeyError }: SecondFactorFormValues): Html {
  const passkey = factors.includes('passkey')
  return html`${error ? html`<div role="alert" id="code-error"><p>${error}</p></div>` : undefined}
${passkey
    ? html`${passkeyForm({
      ceremony: 'get', action: '/account/login/second-factor/passkey', options: '/account/login/second-factor/passkey/options',
      fields: { interaction, csrf, mfa_token: mfaToken },
      button: html`<button type="submit"${factors.includes('totp') ? undefined : html` autofocus`}>Use your passkey</button>`,
      failed: factors.includes('totp') ? 'No passkey was used. Try again, or enter a code below.' : 'No passkey was used. Try again, or enter a recovery code below.',
      error: passkeyError,
    })}
<noscript><p>Using a passkey needs JavaScript, which is off in this browser.</p></noscript>`
    : undefined}
${factors.includes('totp')
    ? codeForm('Code from your authenticator app', 'Six digits; or one of your recovery codes if you have lost the app.', true)
    : codeForm('Recovery code', 'If you cannot use your passkey: one of the recovery codes you were given when you added it.', false)}`

  function codeForm(label: string, hint: string, numeric: boolean): Html {
    return html`<form method="post" action="/account/login/second-factor">
<input type="hidden" name="interaction" value="${interaction}">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="mfa_token" value="${mfaToken}">
<label for="code">${label}</label>
<p class="hint" id="code-hint">${hint}</p>
<input id="code" name="code" type="text"${numeric ? html` inputmode="numeric"` : undefined} autocomplete="one-time-code" required maxlength="64"
  aria-describedby="${error ? 'code-error code-hint' : 'code-hint'}"${error ? html` aria-invalid="true"` : undefined}${numeric || !passkey ? html` autofocus` : undefined}>
<button type="submit">Continue</button>
</form>`
  }
}

/** The second step of the seed-003 idea, done safely: the password was checked, the role is chosen here. */
export function chooseRoleForm({ interaction, csrf, clientName, roles }: { interaction: string; csrf: string; clientName: string; roles: string[] }): Html {
  return html`<form method="post" action="/account/role">
<input type="hidden" name="interaction" value="${interaction}">
<input type="hidden" name="csrf" value="${csrf}">
<fieldset>
<legend>Which role do you want to use in <strong>${clientName}</strong>?</legend>
${roles.map((role, i) => html`<div><input type="radio" id="role-${i}" name="role" value="${role}" required${i === 0 ? html` autofocus` : undefined}> <label for="role-${i}">${role}</label></div>`)}
</fieldset>
<button type="submit">Continue</button>
</form>`
}

const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are (your account id)',
  profile: 'See your name and your role',
  email: 'See your email address',
  phone: 'See your phone number',
  offline_access: 'Stay signed in and act for you while you are away',
}

/** Consent for a third-party client: what it will get, and a choice that is equally easy either way. */
export function consentForm({ interaction, csrf, clientName, scopes, role }: { interaction: string; csrf: string; clientName: string; scopes: string[]; role: string }): Html {
  const listed = scopes.length > 0 ? scopes : ['openid']
  return html`<p><strong>${clientName}</strong> is asking to:</p>
<ul>${listed.map((scope) => html`<li>${SCOPE_WORDS[scope] ?? scope}</li>`)}
<li>Act for you with your role <strong>${role}</strong>: call services on your behalf with what that role may do</li></ul>
<form method="post" action="/account/consent">
<input type="hidden" name="interaction" value="${interaction}">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`
}

/** RP-initiated logout without proof of which client asks: the person confirms, so no other site can log them out. */
export function logoutForm({ csrf, fields }: { csrf: string; fields: Record<string, string | undefined> }): Html {
  return html`<p>Do you want to log out? You will be logged out of every application you logged in to here.</p>
<form method="post" action="/account/logout">
<input type="hidden" name="csrf" value="${csrf}">
${Object.entries(fields).filter(([, value]) => value !== undefined).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" autofocus>Log out</button>
</form>`
}
