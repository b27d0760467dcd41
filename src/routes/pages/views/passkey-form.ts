import { html, type Html } from '../layout.js'
import { PASSKEY_SCRIPT } from './passkey-script.js'

/**
 * A form the passkey script drives (views/passkey-script.ts): hidden until the script finds WebAuthn,
 * it fetches `options` with its fields, then posts them with the credential to `action`.
 */
export function passkeyForm({ ceremony, action, options, fields, button, failed, error }: {
  /** `create` registers a passkey; `get` signs with one. */
  ceremony: 'create' | 'get'
  action: string
  options: string
  fields: Record<string, string>
  button: Html | string
  /** What to say when the browser, the person or the service stops the ceremony. */
  failed: string
  /** Why the last passkey was refused, announced in the form's own status. */
  error?: string
}): Html {
  return html`<form method="post" action="${action}" data-passkey="${ceremony}" data-options="${options}" data-failed="${failed}" hidden>
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="credential" value="">
${button}
<p role="alert" data-passkey-status>${error}</p>
</form>
${PASSKEY_SCRIPT}`
}
