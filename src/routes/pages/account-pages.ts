import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { renderSVG } from 'uqr'
import { Conflict, InvalidMfaCode, InvalidPasskey, NotFound } from '../../core/errors.js'
import { RECENT_LOGIN_MS } from '../../core/second-factor/passkeys.js'
import type { LiveBrowserSession } from '../../core/oidc/browser-sessions.js'
import { LOGOUT_FORM, readBrowserSession } from './authorization-steps.js'
import { PasskeyName } from '../native/passkeys-schemas.js'
import { checkCsrf, issueCsrf } from './csrf.js'
import { pageCsp } from './layout.js'
import { CredentialField, credentialFrom } from './passkey-fields.js'
import { send } from './responses.js'
import { accountSecurity, recoveryCodesShown, totpEnrollment, type SecurityPageValues } from './views/account-security.js'
import { message } from './views/message.js'

// The account's own pages at the hosted login: what protects it, and setting up a second factor.
// They need a login at the hosted page made in the last few minutes: changing how an account logs
// in asks for its password again, whatever single sign-on would allow.

const hidden = { hide: true }
const CsrfOnly = Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 100 })) })

export const accountPages: FastifyPluginAsyncTypebox = async (app) => {
  const key = app.core.pageSigningKey
  const secure = app.config.ISSUER.startsWith('https:')
  const { totp, passkeys } = app.core.mfa
  const boundTo = (session: LiveBrowserSession) => `account:${session.id}`
  const owner = (session: LiveBrowserSession) => ({ id: session.accountId, email: session.account.email })

  /** The browser's session if its login is recent; otherwise the browser is sent to log in again. */
  async function recentSession(request: FastifyRequest, reply: FastifyReply): Promise<LiveBrowserSession | null> {
    const session = await readBrowserSession(app, request)
    if (session && Date.now() - session.authTime.getTime() <= RECENT_LOGIN_MS) return session
    await reply.redirect('/account/login', 303)
    return null
  }

  async function securityPage(request: FastifyRequest, reply: FastifyReply, session: LiveBrowserSession, status = 200, notice?: SecurityPageValues['notice']) {
    const { factors, passkeys } = await app.core.mfa.factors.describe(session.accountId)
    reply.header('content-security-policy', pageCsp([], { passkeys: true }))
    return send(reply, status, 'Your account', accountSecurity({
      email: session.account.email, totpActive: factors.includes('totp'), passkeys, notice,
      csrf: issueCsrf(request, reply, key, secure, boundTo(session)), logoutCsrf: issueCsrf(request, reply, key, secure, LOGOUT_FORM),
    }))
  }
  const expired = (reply: FastifyReply) => send(reply, 403, 'Your account', message('This form has expired. Open your account page again.', 'alert'))

  /** The recent session a form of this page was posted in, its anti-forgery field checked; null once the answer is sent. */
  async function postedIn(request: FastifyRequest, reply: FastifyReply, csrf: string | undefined): Promise<LiveBrowserSession | null> {
    const session = await recentSession(request, reply)
    if (!session) return null
    if (checkCsrf(request, key, secure, csrf, boundTo(session))) return session
    await expired(reply)
    return null
  }

  app.get('/security', { schema: hidden }, async (request, reply) => {
    const session = await recentSession(request, reply)
    return session ? securityPage(request, reply, session) : reply
  })

  app.post('/security/totp', { ...app.rateLimited('token'), schema: { ...hidden, body: CsrfOnly } }, async (request, reply) => {
    const session = await postedIn(request, reply, request.body.csrf)
    if (!session) return reply
    try {
      const enrollment = await totp.enroll(owner(session))
      return await send(reply, 200, 'Set up an authenticator app', totpEnrollment({
        qrSvg: renderSVG(enrollment.otpauthUri), secret: enrollment.secret, csrf: issueCsrf(request, reply, key, secure, boundTo(session)),
      }))
    } catch (error) {
      if (error instanceof Conflict) return securityPage(request, reply, session)
      throw error
    }
  })

  app.post('/security/totp/confirm', {
    ...app.rateLimited('password'),
    schema: { ...hidden, body: Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 100 })), code: Type.String({ maxLength: 64 }) }) },
  }, async (request, reply) => {
    const session = await postedIn(request, reply, request.body.csrf)
    if (!session) return reply
    try {
      const codes = await totp.confirm(owner(session), request.body.code)
      return await send(reply, 200, 'Authenticator app on', recoveryCodesShown(codes, 'Your authenticator app is on.', 'the app'))
    } catch (error) {
      if (error instanceof InvalidMfaCode) {
        // The pending secret stays; show it again to try another code.
        const pending = await totp.pendingEnrollment(owner(session))
        if (pending) {
          return send(reply, 422, 'Set up an authenticator app', totpEnrollment({
            qrSvg: renderSVG(pending.otpauthUri), secret: pending.secret, csrf: issueCsrf(request, reply, key, secure, boundTo(session)),
            error: 'That code is not right. Check the time on your phone, and try the code it shows now.',
          }))
        }
      }
      if (error instanceof NotFound || error instanceof Conflict || error instanceof InvalidMfaCode) return securityPage(request, reply, session)
      throw error
    }
  })

  // Passkeys: the script fetches the registration options (JSON), then posts the new credential.
  app.post('/security/passkeys/options', { ...app.rateLimited('token'), schema: { ...hidden, body: CsrfOnly } }, async (request, reply) => {
    const session = await postedIn(request, reply, request.body.csrf)
    if (!session) return reply
    return reply.type('application/json').send({ options: await passkeys.registrationOptions(owner(session)) })
  })

  app.post('/security/passkeys', {
    ...app.rateLimited('password'),
    schema: {
      ...hidden,
      // An empty name is the form's field left blank: the default name then.
      body: Type.Object({ csrf: Type.Optional(Type.String({ maxLength: 100 })), credential: CredentialField, name: Type.Optional(Type.Union([Type.Literal(''), PasskeyName])) }),
    },
  }, async (request, reply) => {
    const session = await postedIn(request, reply, request.body.csrf)
    if (!session) return reply
    try {
      const name = request.body.name?.trim()
      const { passkey, recoveryCodes } = await passkeys.register(owner(session), credentialFrom(request.body.credential), name === '' ? undefined : name, request.ip)
      const added = `Passkey “${passkey.name}” added.`
      if (recoveryCodes) return await send(reply, 200, 'Passkey added', recoveryCodesShown(recoveryCodes, `${added} Logins now ask for it after your password.`, 'the passkey'))
      return await securityPage(request, reply, session, 200, { text: added, role: 'status' })
    } catch (error) {
      if (error instanceof InvalidPasskey) return securityPage(request, reply, session, 400, { text: 'That passkey could not be added. Try again.', role: 'alert' })
      if (error instanceof Conflict) return securityPage(request, reply, session, 409, { text: error.message, role: 'alert' })
      throw error
    }
  })

  app.post('/security/passkeys/:id/remove', {
    ...app.rateLimited('token'), schema: { ...hidden, params: Type.Object({ id: Type.String({ maxLength: 100 }) }), body: CsrfOnly },
  }, async (request, reply) => {
    const session = await postedIn(request, reply, request.body.csrf)
    if (!session) return reply
    try {
      // The owner's proof is the login this page needs, made in the last few minutes with every factor.
      await passkeys.remove(owner(session), request.params.id, { loggedInAt: session.authTime }, request.ip)
      return await securityPage(request, reply, session, 200, { text: 'Passkey removed.', role: 'status' })
    } catch (error) {
      if (error instanceof NotFound) return securityPage(request, reply, session, 404, { text: 'That passkey is gone already.', role: 'alert' })
      throw error
    }
  })
}
