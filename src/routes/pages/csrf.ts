import crypto from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

// Anti-forgery for the hosted pages' forms: a random value in an HttpOnly, SameSite=Strict cookie,
// and in the form its HMAC under a key every instance shares. Another site can neither read the
// cookie nor compute the field, and a cookie planted from a sibling domain has no matching field.

export const CSRF_COOKIE = 'latchkey_csrf'
export const CSRF_FIELD = 'csrf'
const COOKIE_VALUE = /^[\w-]{43}$/

function fieldFor(key: Buffer, cookieValue: string): string {
  return crypto.createHmac('sha256', key).update(cookieValue).digest('base64url')
}

/** The form field for this browser, setting its cookie first if it has none. */
export function issueCsrf(request: FastifyRequest, reply: FastifyReply, key: Buffer, secure: boolean): string {
  let value = request.cookies[CSRF_COOKIE]
  if (value === undefined || !COOKIE_VALUE.test(value)) {
    value = crypto.randomBytes(32).toString('base64url')
    reply.setCookie(CSRF_COOKIE, value, { path: '/account', httpOnly: true, sameSite: 'strict', secure })
  }
  return fieldFor(key, value)
}

/** Whether the form's field matches this browser's cookie. */
export function checkCsrf(request: FastifyRequest, key: Buffer, field: string | undefined): boolean {
  const value = request.cookies[CSRF_COOKIE]
  if (value === undefined || !COOKIE_VALUE.test(value) || typeof field !== 'string') return false
  const expected = Buffer.from(fieldFor(key, value))
  const given = Buffer.from(field)
  return given.length === expected.length && crypto.timingSafeEqual(given, expected)
}
