import { html, type Html } from '../layout.js'

export interface ResetFormValues {
  token: string
  csrf: string
  minLength: number
  /** What is wrong with the password tried, announced to screen readers. */
  errors?: string[]
}

/** The form a reset link opens: one new password, posted back here with the link's token. */
export function resetPasswordForm({ token, csrf, minLength, errors = [] }: ResetFormValues): Html {
  const invalid = errors.length > 0
  return html`${invalid ? html`<div role="alert" id="password-error"><p>${errors.join(' ')}</p></div>` : undefined}
<form method="post" action="/account/reset-password">
<input type="hidden" name="token" value="${token}">
<input type="hidden" name="csrf" value="${csrf}">
<label for="password">New password</label>
<p class="hint" id="password-hint">At least ${minLength} characters. Spaces and any characters are welcome; a long phrase is best. Commonly used passwords are refused.</p>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="${minLength}" maxlength="1024"
  aria-describedby="${invalid ? 'password-error password-hint' : 'password-hint'}"${invalid ? html` aria-invalid="true"` : undefined} autofocus>
<button type="submit">Set the new password</button>
</form>`
}
