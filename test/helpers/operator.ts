import type { App } from '../../src/app.js'
import { createAccount, nativeLogin } from './accounts.js'

/**
 * How a test becomes an operator of the admin API, in one place: today an account that holds the
 * admin role, logged in for that role. Change this function when operators are defined otherwise.
 * Returns a minter of fresh operator tokens, so a test that ends sessions never runs out of them.
 */
export async function operatorTokens(app: App): Promise<() => Promise<string>> {
  const operator = await createAccount(app, { roles: { admin: [] } })
  return async () => (await nativeLogin(app, operator)).token
}
