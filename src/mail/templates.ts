import fs from 'node:fs'

// Mail bodies live in files beside this one (templates/NAME.txt and NAME.html), so their wording
// can change without touching code. `{{name}}` is replaced by a value: as is in text, escaped in HTML.

const DIRECTORY = new URL('./templates/', import.meta.url)
const cache = new Map<string, string>()

function read(file: string): string {
  let text = cache.get(file)
  if (text === undefined) cache.set(file, (text = fs.readFileSync(new URL(file, DIRECTORY), 'utf8')))
  return text
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function fill(template: string, values: Record<string, string>, escape: (value: string) => string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`mail template value "${name}" is missing`)
    return escape(value)
  })
}

/** The text and HTML bodies of template `name` with `values` filled in; the HTML inside the shared layout. */
export function renderMail(name: string, subject: string, values: Record<string, string>): { text: string; html: string } {
  const text = fill(read(`${name}.txt`), values, (value) => value)
  const body = fill(read(`${name}.html`), values, escapeHtml)
  const html = fill(read('layout.html'), { subject: escapeHtml(subject), service: escapeHtml(values.service ?? ''), body }, (value) => value)
  return { text, html }
}
