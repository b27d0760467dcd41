import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Ok, actorOf, bodyErrors, commonErrors, documented, notFound } from './schemas.js'

const AccountParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Account id (UUID)' }) })

const Factors = Type.Object({
  factors: Type.Array(Type.Literal('totp'), { description: 'The account\'s active second factors; empty when it logs in with its password alone' }),
  totp_pending: Type.Boolean({ description: 'A TOTP enrollment was started and not confirmed yet (it protects nothing until then)' }),
  recovery_codes_left: Type.Integer({ minimum: 0, description: 'Unused recovery codes' }),
}, { examples: [{ factors: ['totp'], totp_pending: false, recovery_codes_left: 9 }] })

/** An account's second factors, as operators see them (never a secret) and reset them. */
const factors: FastifyPluginAsyncTypebox = async (app) => {
  const { admin, mfa } = app.core

  app.get('/accounts/:id/factors', {
    schema: {
      summary: 'An account\'s second factors', ...documented(), params: AccountParams,
      description: 'Which second factors the account has, and how many recovery codes are left. Never a secret.',
      response: { 200: Ok(Factors), ...commonErrors, ...notFound },
    },
  }, async (request) => {
    const account = await admin.accounts.get(request.params.id)
    return { success: true as const, message: 'Second factors', data: factorsJson(await mfa.totp.describe(account.id)) }
  })

  app.delete('/accounts/:id/factors', {
    schema: {
      summary: 'Reset an account\'s second factors', ...documented(), params: AccountParams,
      description: 'Removes every second factor of the account and its recovery codes (for an owner who lost them): it logs in '
        + 'with its password alone until it enrolls again. Audited as `admin.factors_reset`. Sessions are left as they are.',
      response: { 200: Ok(Factors), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    const account = await admin.accounts.get(request.params.id)
    await mfa.totp.reset(account.id, actorOf(request))
    return { success: true as const, message: 'Second factors reset', data: factorsJson(await mfa.totp.describe(account.id)) }
  })
}

function factorsJson(described: { factors: 'totp'[]; totpPending: boolean; recoveryCodesLeft: number }) {
  return { factors: described.factors, totp_pending: described.totpPending, recovery_codes_left: described.recoveryCodesLeft }
}

export default factors
