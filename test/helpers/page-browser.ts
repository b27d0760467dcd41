import type { App } from '../../src/app.js'

/** A page as the browser got it: status, where it points next, and its forms' fields. */
export interface PageResponse {
  status: number
  location?: string
  body: string
  headers: Record<string, string | string[] | number | undefined>
}

/**
 * A cookie-keeping browser over app.inject for the hosted pages: it sends and keeps cookies per path
 * like a browser, submits forms with their hidden fields, and follows redirects only on this service.
 * The real browser (Chromium) drives the same pages in test/standards/openid-connect-browser.test.ts.
 */
export class PageBrowser {
  private readonly cookies = new Map<string, { value: string; path: string }>()

  constructor(private readonly app: App, private readonly issuer = app.config.ISSUER) {}

  private cookieHeader(path: string): string | undefined {
    const sent = [...this.cookies.entries()].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`)
    return sent.length ? sent.join('; ') : undefined
  }

  private keep(setCookie: string | string[] | number | undefined) {
    for (const line of [setCookie ?? []].flat()) {
      const [pair, ...attributes] = String(line).split(';')
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')).trim(), pair!.slice(pair!.indexOf('=') + 1).trim()]
      const path = attributes.map((a) => a.trim()).find((a) => /^path=/i.test(a))?.slice(5) ?? '/'
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || attributes.some((a) => /^\s*max-age=0$/i.test(a))
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, { value, path })
    }
  }

  hasCookie(name: string): boolean {
    return this.cookies.has(name)
  }

  forget(name: string) {
    this.cookies.delete(name)
  }

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<PageResponse> {
    const local = url.startsWith(this.issuer) ? url.slice(this.issuer.length) : url
    const path = local.split('?')[0]!
    const cookie = this.cookieHeader(path)
    const response = await this.app.inject({
      method, url: local,
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { payload: new URLSearchParams(form).toString() } : {}),
    })
    this.keep(response.headers['set-cookie'])
    return { status: response.statusCode, location: response.headers.location, body: response.body, headers: response.headers }
  }

  /** Follows redirects on this service; stops at a page, or at a redirect elsewhere (the client's). */
  async visit(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<PageResponse> {
    let response = await this.request(method, url, form)
    for (let hops = 0; response.location && hops < 10; hops++) {
      const next = response.location
      if (!next.startsWith('/') && !next.startsWith(this.issuer)) return response
      response = await this.request('GET', next)
    }
    return response
  }

  /** Submits the page's form (the one posting to `action`) with its hidden fields and `fields`. */
  submit(page: PageResponse, action: string, fields: Record<string, string> = {}): Promise<PageResponse> {
    return this.visit('POST', action, { ...hiddenFields(page.body, action), ...fields })
  }
}

/** The hidden inputs of the form that posts to `action`. */
export function hiddenFields(body: string, action: string): Record<string, string> {
  const start = body.indexOf(`action="${action}"`)
  if (start < 0) throw new Error(`no form posting to ${action} in: ${body.slice(0, 500)}`)
  const form = body.slice(start, body.indexOf('</form>', start))
  const fields: Record<string, string> = {}
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = unescapeHtml(match[2]!)
  return fields
}

function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)))
}
