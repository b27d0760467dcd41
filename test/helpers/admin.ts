import type { Test } from 'tap'
import type { App } from '../../src/app.js'
import { OPERATOR_PERMISSION, OPERATOR_ROLE } from '../../src/core/operators.js'
import { bearer, createAccount, nativeLogin, type TestAccount } from './accounts.js'

export interface AdminCaller {
  account: TestAccount
  token: string
  headers: { authorization: string }
}

/** Latchkey's operator role with its permission, as the migration creates them. */
export const OPERATOR = { [OPERATOR_ROLE]: [OPERATOR_PERMISSION] }

/** An operator (an account with Latchkey's operator role), logged in for that role. */
export async function loginAdmin(app: App): Promise<AdminCaller> {
  const account = await createAccount(app, { roles: OPERATOR })
  const { token } = await nativeLogin(app, account)
  return { account, token, headers: bearer(token) }
}

export interface RouteCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  payload?: Record<string, unknown>
}

/**
 * Every route refuses a request with no token (401), a token of another role (403), even from an
 * operator (the token is issued for one role), and an application role named "admin" (403): role
 * names are the applications' data, operator rights are Latchkey's own grant.
 */
export async function assertAdminOnly(t: Test, app: App, routes: RouteCall[]) {
  const staff = await createAccount(app, { roles: { staff: ['things.view'] } })
  const staffToken = (await nativeLogin(app, staff)).token
  const both = await createAccount(app, { roles: { staff: [], ...OPERATOR } })
  const staffRoleOfAdmin = (await nativeLogin(app, both, { role: 'staff' })).token
  const appAdmin = await createAccount(app, { roles: { admin: ['users.manage'] } })
  const appAdminToken = (await nativeLogin(app, appAdmin)).token
  for (const route of routes) {
    const name = `${route.method} ${route.url}`
    const anonymous = await app.inject({ ...route })
    t.equal(anonymous.statusCode, 401, `${name}: 401 without a token`)
    t.match(anonymous.json(), { success: false, code: 'INVALID_TOKEN', message: String }, `${name}: native error envelope`)
    const garbage = await app.inject({ ...route, headers: bearer('not.a.token') })
    t.equal(garbage.statusCode, 401, `${name}: 401 with a bad token`)
    const forbidden = await app.inject({ ...route, headers: bearer(staffToken) })
    t.equal(forbidden.statusCode, 403, `${name}: 403 for a non-admin role`)
    t.match(forbidden.json(), { success: false, code: 'FORBIDDEN', message: String })
    const otherRole = await app.inject({ ...route, headers: bearer(staffRoleOfAdmin) })
    t.equal(otherRole.statusCode, 403, `${name}: 403 for a token of another role of an operator`)
    const application = await app.inject({ ...route, headers: bearer(appAdminToken) })
    t.equal(application.statusCode, 403, `${name}: 403 for an application's role named admin`)
  }
}
