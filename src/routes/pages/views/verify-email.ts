import { html, type Html } from '../layout.js'

/**
 * The page a verification link opens: a button, not an action on open, so that a mail scanner that
 * follows links does not use the single-use token.
 */
export function verifyEmailForm({ token, csrf }: { token: string; csrf: string }): Html {
  return html`<p>Confirm that this email address is yours to finish creating your account.</p>
<form method="post" action="/account/verify-email">
<input type="hidden" name="token" value="${token}">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit" autofocus>Confirm my email address</button>
</form>`
}
