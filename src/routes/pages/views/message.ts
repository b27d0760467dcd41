import { html, type Html } from '../layout.js'

/** A page's outcome: success as a status message, a problem as an alert, both read out when shown. */
export function message(text: string, kind: 'status' | 'alert' = 'status'): Html {
  return html`<div role="${kind}"><p>${text}</p></div>`
}
