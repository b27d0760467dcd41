import crypto from 'node:crypto'
import type { App } from '../../src/app.js'
import { bearer, createAccount, nativeLogin, type TestAccount } from './accounts.js'

// TOTP for tests (RFC 6238, SHA-1, 6 digits), written out again so as not to trust the service's own
// implementation, and an account enrolled through the native API.

export function base32ToBytes(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const bits = Array.from(text, (c) => alphabet.indexOf(c).toString(2).padStart(5, '0')).join('')
  return Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)))
}

/** The code of one 30-second step. */
export function codeAt(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = crypto.createHmac('sha1', secret).update(counter).digest()
  const offset = mac[19]! & 0x0f
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}

export const stepNow = () => Math.floor(Date.now() / 30_000)

/** A code no step near now has (so it is wrong whatever the clock does meanwhile). */
export function wrongCodeFor(secret: Buffer): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => codeAt(secret, stepNow() + d)))
  return ['000000', '111111', '222222', '333333', '444444', '555555'].find((c) => !near.has(c))!
}

export interface Enrolled extends TestAccount {
  secret: Buffer
  secretText: string
  otpauthUri: string
  recoveryCodes: string[]
  /**
   * The next code this account may use: the step after the last one used, never more than one step
   * ahead of now. Two per account work whatever the clock does (the current step's, then the next).
   */
  nextCode(): string
}

/** An account with an active TOTP factor, enrolled and confirmed through the native API. */
export async function enrolledAccount(app: App, options: Parameters<typeof createAccount>[1] = {}): Promise<Enrolled> {
  const account = await createAccount(app, options)
  const { token } = await nativeLogin(app, account)
  const enroll = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/enroll', headers: bearer(token) })
  if (enroll.statusCode !== 200) throw new Error(`enroll failed: ${enroll.statusCode} ${enroll.body}`)
  const { secret: secretText, otpauth_uri: otpauthUri } = enroll.json<{ data: { secret: string; otpauth_uri: string } }>().data
  const secret = base32ToBytes(secretText)
  let last = stepNow()
  const confirm = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/confirm', headers: bearer(token), payload: { code: codeAt(secret, last) } })
  if (confirm.statusCode !== 200) throw new Error(`confirm failed: ${confirm.statusCode} ${confirm.body}`)
  return {
    ...account, secret, secretText, otpauthUri, recoveryCodes: confirm.json<{ data: { recovery_codes: string[] } }>().data.recovery_codes,
    nextCode() {
      last = Math.max(stepNow(), last + 1)
      return codeAt(secret, last)
    },
  }
}
