import crypto from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

// Anti-forgery for the hosted pages' forms: a random value in an HttpOnly, SameSite=Strict cookie,
// and in the form its HMAC, together with what the form acts on (a link's token), under a key every
// instance shares. Another site can neither read the cookie nor compute the field. Over HTTPS the
// cookie is `__Host-`: no sibling domain can set it. Where one could (plain HTTP), a planted cookie
// still needs the field for that cookie and that very link, which only a visit with the link gives.

export const CSRF_FIELD = 'csrf'
const COOKIE_VALUE = /^[\w-]{43}$/

/** The cookie's name and attributes: `__Host-` (Secure, Path=/, no Domain) where the issuer is HTTPS. */
export function csrfCookie(secure: boolean): { name: string; path: string } {
  return secure ? { name: '__Host-latchkey_csrf', path: '/' } : { name: 'latchkey_csrf', path: '/account' }
}

function fieldFor(key: Buffer, cookieValue: string, boundTo: string): string {
  return crypto.createHmac('sha256', key).update(`${cookieValue}\n${boundTo}`).digest('base64url')
}

/** The form field for this browser and what the form acts on, setting the browser's cookie first if it has none. */
export function issueCsrf(request: FastifyRequest, reply: FastifyReply, key: Buffer, secure: boolean, boundTo: string): string {
  const cookie = csrfCookie(secure)
  let value = request.cookies[cookie.name]
  if (value === undefined || !COOKIE_VALUE.test(value)) {
    value = crypto.randomBytes(32).toString('base64url')
    reply.setCookie(cookie.name, value, { path: cookie.path, httpOnly: true, sameSite: 'strict', secure })
    // A page with two forms asks twice: both fields must be for the one cookie the browser keeps.
    request.cookies[cookie.name] = value
  }
  return fieldFor(key, value, boundTo)
}

/** Whether the form's field matches this browser's cookie and what the form acts on. */
export function checkCsrf(request: FastifyRequest, key: Buffer, secure: boolean, field: string | undefined, boundTo: string): boolean {
  const value = request.cookies[csrfCookie(secure).name]
  if (value === undefined || !COOKIE_VALUE.test(value) || typeof field !== 'string') return false
  const expected = Buffer.from(fieldFor(key, value, boundTo))
  const given = Buffer.from(field)
  return given.length === expected.length && crypto.timingSafeEqual(given, expected)
}
