import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { DescribedFactors } from '../../core/second-factor/account-factors.js'
import { Ok, actorOf, bodyErrors, commonErrors, documented, notFound } from './schemas.js'

const AccountParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Account id (UUID)' }) })

const Factors = Type.Object({
  factors: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('passkey')]), {
    description: 'The account\'s active second factors; empty when it logs in with its password alone',
  }),
  totp_pending: Type.Boolean({ description: 'A TOTP enrollment was started and not confirmed yet (it protects nothing until then)' }),
  recovery_codes_left: Type.Integer({ minimum: 0, description: 'Unused recovery codes' }),
  passkeys: Type.Array(Type.Object({
    id: Type.String({ format: 'uuid' }),
    name: Type.String({ description: 'The name the owner gave it' }),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }), { description: 'The account\'s passkeys (WebAuthn credentials), never a key' }),
}, {
  examples: [{
    factors: ['totp', 'passkey'], totp_pending: false, recovery_codes_left: 9,
    passkeys: [{ id: '0b6e3c52-1f7a-4c3e-9a55-2d8f4b7e6a10', name: 'Laptop', created_at: '2026-12-04T10:00:00.000Z', last_used_at: null }],
  }],
})

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
    return { success: true as const, message: 'Second factors', data: factorsJson(await mfa.factors.describe(account.id)) }
  })

  app.delete('/accounts/:id/factors', {
    schema: {
      summary: 'Reset an account\'s second factors', ...documented(), params: AccountParams,
      description: 'Removes every second factor of the account (TOTP, recovery codes, passkeys), for an owner who lost them: it logs in '
        + 'with its password alone until it enrolls again. Audited as `admin.factors_reset`. Sessions are left as they are.',
      response: { 200: Ok(Factors), ...commonErrors, ...bodyErrors, ...notFound },
    },
  }, async (request) => {
    const account = await admin.accounts.get(request.params.id)
    await mfa.factors.reset(account.id, actorOf(request))
    return { success: true as const, message: 'Second factors reset', data: factorsJson(await mfa.factors.describe(account.id)) }
  })
}

function factorsJson(described: DescribedFactors) {
  return {
    factors: described.factors, totp_pending: described.totpPending, recovery_codes_left: described.recoveryCodesLeft,
    passkeys: described.passkeys.map((p) => ({ id: p.id, name: p.name, created_at: p.createdAt.toISOString(), last_used_at: p.lastUsedAt?.toISOString() ?? null })),
  }
}

export default factors
