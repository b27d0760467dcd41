import type { App } from '../../src/app.js'
import { createAccount, nativeLogin } from './accounts.js'
import { OPERATOR } from './admin.js'

/**
 * How a test becomes an operator of the admin API, in one place: an account with Latchkey's
 * operator role, logged in for it. Returns a minter of fresh operator tokens, so a test that ends
 * sessions never runs out of them.
 */
export async function operatorTokens(app: App): Promise<() => Promise<string>> {
  const operator = await createAccount(app, { roles: OPERATOR })
  return async () => (await nativeLogin(app, operator)).token
}
