import crypto from 'node:crypto'
import { escapeHtml } from '../../mail/templates.js'
import { PASSKEY_SCRIPT_HASH } from './views/passkey-script.js'

export { escapeHtml }

/** HTML that is already safe: built only by the views, from escaped values. */
export interface Html {
  readonly html: string
}

/** A template literal whose values are escaped, unless they are Html already. */
export function html(strings: TemplateStringsArray, ...values: (string | number | Html | Html[] | undefined)[]): Html {
  let out = strings[0]!
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!
  })
  return { html: out }
}

function render(value: string | number | Html | Html[] | undefined): string {
  if (value === undefined) return ''
  if (Array.isArray(value)) return value.map((part) => part.html).join('')
  if (typeof value === 'object') return value.html
  return escapeHtml(String(value))
}

// The pages' only style, allowed by its hash in the content security policy (no other inline code).
const STYLE = `body{font-family:system-ui,sans-serif;line-height:1.5;max-width:30em;margin:2em auto;padding:0 1em;color:#1a1a1a}
label{display:block;font-weight:600;margin-top:1em}input{font:inherit;width:100%;box-sizing:border-box;padding:.5em;margin-top:.25em}
button{font:inherit;margin-top:1.25em;padding:.5em 1.25em}.hint{color:#444;font-size:.9em;margin:.25em 0 0}
[role=alert]{border:2px solid #b00020;padding:.5em 1em;margin:1em 0}:focus-visible{outline:3px solid #1a56db;outline-offset:2px}
fieldset{border:0;padding:0;margin:1em 0 0}legend{font-weight:600}fieldset label{display:inline;font-weight:400}
input[type=radio]{width:auto;margin:.75em .5em 0 0}button+button{margin-left:.75em}[data-passkey-status]:empty{display:none}`

const STYLE_HASH = `'sha256-${crypto.createHash('sha256').update(STYLE).digest('base64')}'`

/**
 * The hosted pages' policy: nothing but this style and forms posted to this origin; never framed
 * (clickjacking), no base URL to hijack, and no referrer (the URL holds a link's token).
 */
export const PAGE_CSP = pageCsp()

/**
 * The policy for a page whose form may end in a redirect elsewhere: browsers apply form-action to
 * the redirects that follow a form's submission, so the client's redirect URI must be allowed too.
 */
export function pageCsp(alsoFormActions: string[] = [], options: { passkeys?: boolean } = {}): string {
  // A passkey form runs the one hashed script, which fetches its ceremony's options from this origin.
  const script = options.passkeys ? `; script-src ${PASSKEY_SCRIPT_HASH}; connect-src 'self'` : ''
  return `default-src 'none'; style-src ${STYLE_HASH}${script}; form-action ${['\'self\'', ...alsoFormActions].join(' ')}; frame-ancestors 'none'; base-uri 'none'`
}

/** A CSP source for a redirect URI: its origin, or its scheme for a private-use one (RFC 8252 §7.1). */
export function cspSourceFor(uri: string): string {
  const url = new URL(uri)
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol
}

/** A whole page around `body`: the language, a title that says where the reader is, one main landmark. */
export function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} – Latchkey</title>
<style>${{ html: STYLE }}</style>
</head>
<body>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.html
}
