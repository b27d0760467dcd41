import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { AccountView } from '../../core/accounts.js'
import { AccountDisabled, AccountLocked, InvalidCredentials, InvalidMfaCode, InvalidMfaToken, InvalidPasskey, MfaRequired } from '../../core/errors.js'
import { consentScopes } from '../../core/oidc/authorization-flow.js'
import type { Interaction } from '../../core/oidc/interactions.js'
import { answer, INTERACTION_GONE, proceed, readBrowserSession, setBrowserSessionCookie } from './authorization-steps.js'
import { checkCsrf, issueCsrf } from './csrf.js'
import { CredentialField, credentialFrom } from './passkey-fields.js'
import { cspSourceFor, pageCsp, type Html } from './layout.js'
import { send } from './responses.js'
import { chooseRoleForm, consentForm, loginForm, secondFactorForm } from './views/login.js'
import { message } from './views/message.js'

// The hosted login: password, second factor, role, consent; each page posts back with the id of the
// interaction (the authorization request it serves) and an anti-forgery field bound to that id.

const InteractionId = Type.String({ minLength: 1, maxLength: 100 })
const Field = (maxLength: number) => Type.String({ maxLength })
const InteractionQuery = Type.Object({ interaction: Type.Optional(InteractionId) })
const hidden = { hide: true }

const WRONG_PASSWORD = 'The email or password is not right.'
/** What a step says went wrong: with the password or code fields (`error`), or with the passkey. */
interface StepErrors { error?: string; passkeyError?: string }
const FORM_EXPIRED = 'This form has expired or was not sent from this page. Go back to the application and start again.'

export const loginPages: FastifyPluginAsyncTypebox = async (app) => {
  const key = app.core.pageSigningKey
  const secure = app.config.ISSUER.startsWith('https:')
  const { interactions, browserSessions, consents, flow } = app.core.oidc
  const { mfa } = app.core
  const csrfFor = (request: FastifyRequest, reply: FastifyReply, interaction: Interaction) => issueCsrf(request, reply, key, secure, `interaction:${interaction.id}`)
  const csrfValid = (request: FastifyRequest, interaction: Interaction, field: string | undefined) => checkCsrf(request, key, secure, field, `interaction:${interaction.id}`)

  /**
   * Sends a page of this interaction: its forms may end in a redirect to the client, which the policy
   * must allow; a login step runs the passkey script.
   */
  function show(reply: FastifyReply, interaction: Interaction, status: number, title: string, body: Html, options: { passkeys?: boolean } = {}) {
    if (interaction.request || options.passkeys) {
      reply.header('content-security-policy', pageCsp(interaction.request ? [cspSourceFor(interaction.request.redirectUri)] : [], options))
    }
    return send(reply, status, title, body)
  }
  const showLogin = async (request: FastifyRequest, reply: FastifyReply, interaction: Interaction, status: number, values: { email?: string } & StepErrors = {}) =>
    show(reply, interaction, status, 'Log in', loginForm({
      interaction: interaction.id, csrf: csrfFor(request, reply, interaction), clientName: await clientName(interaction), ...values,
    }), { passkeys: true })
  const showSecondStep = (request: FastifyRequest, reply: FastifyReply, interaction: Interaction, status: number, values: { mfaToken: string; factors: string[] } & StepErrors) =>
    show(reply, interaction, status, 'Second step', secondFactorForm({ interaction: interaction.id, csrf: csrfFor(request, reply, interaction), ...values }), { passkeys: true })
  /** The second step again after a wrong answer, with the factors its token's account has now. */
  const secondStepAgain = async (request: FastifyRequest, reply: FastifyReply, interaction: Interaction, mfaToken: string, status: number, errors: StepErrors) =>
    showSecondStep(request, reply, interaction, status, { mfaToken, factors: await mfa.factorsFor(mfaToken), ...errors })
  const stepExpired = (reply: FastifyReply, interaction: Interaction) => show(reply, interaction, 400, 'Second step', message('This step has expired. Log in again.', 'alert'))
  const gone = (reply: FastifyReply) => send(reply, 400, 'Log in', message(INTERACTION_GONE, 'alert'))
  const forged = (reply: FastifyReply) => send(reply, 403, 'Log in', message(FORM_EXPIRED, 'alert'))
  /** The interaction a login form posts to, its anti-forgery field checked; null once the refusal is sent. */
  async function postedTo(request: FastifyRequest, reply: FastifyReply, body: { interaction: string; csrf?: string }): Promise<Interaction | null> {
    const interaction = await interactions.find(body.interaction)
    if (!interaction) await gone(reply)
    else if (!csrfValid(request, interaction, body.csrf)) await forged(reply)
    else return interaction
    return null
  }
  /** The application the person logs in to; undefined for a login to manage the account. */
  const clientName = async (interaction: Interaction) => interaction.request
    ? (await app.core.clients.find(interaction.request.clientId))?.name ?? 'the application'
    : undefined

  /** After the password (and second factor): the browser session starts, and the request goes on. */
  async function loggedIn(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, account: AccountView, amr: string[]) {
    const previous = await readBrowserSession(app, request)
    const { token, session } = await browserSessions.start(account, amr, request.ip)
    // So that a logout later still reaches every session this browser started.
    if (previous) await browserSessions.replace(previous, session)
    setBrowserSessionCookie(app, reply, token)
    const updated = { ...interaction, loggedIn: session.id }
    await interactions.save(updated)
    return proceed(app, reply, updated, session, 303)
  }

  app.get('/login', { ...app.rateLimited('token'), schema: { ...hidden, querystring: InteractionQuery } }, async (request, reply) => {
    // Opened directly (no authorization request): a login to manage the account.
    if (request.query.interaction === undefined) {
      const started = await interactions.start(null)
      return reply.redirect(`/account/login?interaction=${encodeURIComponent(started.id)}`, 302)
    }
    const interaction = await interactions.find(request.query.interaction)
    if (!interaction) return gone(reply)
    return showLogin(request, reply, interaction, 200, { email: interaction.request?.loginHint })
  })

  app.post('/login', {
    ...app.rateLimited('password'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, email: Field(320), password: Field(1024), csrf: Type.Optional(Field(100)) }) },
  }, async (request, reply) => {
    const { email, password } = request.body
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    const again = (status: number, error: string) => showLogin(request, reply, interaction, status, { email, error })
    let account: AccountView
    try {
      account = await app.core.login.authenticateInBrowser({ email, password }, request.ip)
    } catch (error) {
      if (error instanceof InvalidCredentials) return again(401, WRONG_PASSWORD)
      if (error instanceof AccountLocked) {
        reply.header('retry-after', String(error.retryAfterSeconds))
        return again(429, `Too many failed attempts. Try again in ${Math.ceil(error.retryAfterSeconds / 60)} minutes.`)
      }
      if (error instanceof AccountDisabled) return again(403, 'This account is disabled.')
      if (error instanceof MfaRequired && error.mfaToken) {
        return showSecondStep(request, reply, interaction, 200, { mfaToken: error.mfaToken.token, factors: error.factors })
      }
      throw error
    }
    return loggedIn(request, reply, interaction, account, ['pwd'])
  })

  app.post('/login/second-factor', {
    ...app.rateLimited('password'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, mfa_token: Field(100), code: Field(64), csrf: Type.Optional(Field(100)) }) },
  }, async (request, reply) => {
    const { mfa_token: mfaToken, code } = request.body
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    let proven
    try {
      proven = await mfa.login.prove(mfaToken, code, request.ip)
    } catch (error) {
      return secondStepRefused(request, reply, interaction, mfaToken, error, { error: 'That code is not right, or was already used.' })
    }
    return loggedIn(request, reply, interaction, proven.account, proven.amr)
  })

  /** The second step's answer for a refused proof, whichever factor gave it. */
  async function secondStepRefused(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, mfaToken: string, error: unknown, wrong: StepErrors) {
    try {
      if (error instanceof InvalidMfaCode || error instanceof InvalidPasskey) return await secondStepAgain(request, reply, interaction, mfaToken, 401, wrong)
      if (error instanceof AccountLocked) {
        reply.header('retry-after', String(error.retryAfterSeconds))
        return await secondStepAgain(request, reply, interaction, mfaToken, 429, { error: `Too many failed attempts. Try again in ${Math.ceil(error.retryAfterSeconds / 60)} minutes.` })
      }
    } catch (again) {
      // The token went while the page was being made again (spent, expired).
      if (again instanceof InvalidMfaToken) return stepExpired(reply, interaction)
      throw again
    }
    if (error instanceof InvalidMfaToken) return stepExpired(reply, interaction)
    if (error instanceof AccountDisabled) return show(reply, interaction, 403, 'Second step', message('This account is disabled.', 'alert'))
    throw error
  }

  // Passkeys at the login: the script fetches a ceremony's options, then posts the form with the
  // credential. Both carry the interaction and its anti-forgery field; the options come as JSON.
  const PASSKEY_REFUSED = 'That passkey was not accepted. Try again, or use another way to log in.'
  /** A passwordless challenge answers only the login it was asked for. */
  const loginOf = (interaction: Interaction) => `interaction:${interaction.id}`

  app.post('/login/passkey/options', {
    ...app.rateLimited('token'), schema: { ...hidden, body: Type.Object({ interaction: InteractionId, csrf: Type.Optional(Field(100)) }) },
  }, async (request, reply) => {
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    return reply.type('application/json').send({ options: await mfa.passkeys.passwordlessOptions(loginOf(interaction)) })
  })

  app.post('/login/passkey', {
    ...app.rateLimited('password'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, csrf: Type.Optional(Field(100)), credential: CredentialField }) },
  }, async (request, reply) => {
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    let proven
    try {
      proven = await mfa.passkeys.authenticatePasswordless(credentialFrom(request.body.credential), request.ip, loginOf(interaction))
    } catch (error) {
      if (error instanceof InvalidPasskey) return showLogin(request, reply, interaction, 401, { passkeyError: PASSKEY_REFUSED })
      if (error instanceof AccountDisabled) return showLogin(request, reply, interaction, 403, { passkeyError: 'This account is disabled.' })
      throw error
    }
    return loggedIn(request, reply, interaction, proven.account, proven.amr)
  })

  app.post('/login/second-factor/passkey/options', {
    ...app.rateLimited('token'), schema: { ...hidden, body: Type.Object({ interaction: InteractionId, csrf: Type.Optional(Field(100)), mfa_token: Field(100) }) },
  }, async (request, reply) => {
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    try {
      return await reply.type('application/json').send({ options: await mfa.passkeyLogin.secondStepOptions(request.body.mfa_token) })
    } catch (error) {
      if (error instanceof InvalidMfaToken) return stepExpired(reply, interaction)
      throw error
    }
  })

  app.post('/login/second-factor/passkey', {
    ...app.rateLimited('password'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, csrf: Type.Optional(Field(100)), mfa_token: Field(100), credential: CredentialField }) },
  }, async (request, reply) => {
    const { mfa_token: mfaToken, credential } = request.body
    const interaction = await postedTo(request, reply, request.body)
    if (!interaction) return reply
    let proven
    try {
      proven = await mfa.passkeyLogin.proveSecondStep(mfaToken, credentialFrom(credential), request.ip)
    } catch (error) {
      return secondStepRefused(request, reply, interaction, mfaToken, error, { passkeyError: PASSKEY_REFUSED })
    }
    return loggedIn(request, reply, interaction, proven.account, proven.amr)
  })

  /**
   * The interaction, the browser session and the client, for the steps after the login; `at` is
   * the step the request is at for this browser's person, which is the only one a form may answer.
   */
  async function loggedInStep(request: FastifyRequest, interactionId: string | undefined) {
    const found = await interactions.find(interactionId)
    // Only an authorization request has a role or consent step.
    if (!found?.request) return null
    const interaction = { ...found, request: found.request }
    const [session, client] = await Promise.all([readBrowserSession(app, request), app.core.clients.find(interaction.request.clientId)])
    if (!client) return null
    const at = (await flow.decide(interaction, client, session)).kind
    return { interaction, session, client, at }
  }

  app.get('/role', { ...app.rateLimited('token'), schema: { ...hidden, querystring: InteractionQuery } }, async (request, reply) => {
    const step = await loggedInStep(request, request.query.interaction)
    if (!step) return gone(reply)
    const { interaction, session, client } = step
    if (step.at !== 'choose-role' || !session) return proceed(app, reply, interaction, session, 302)
    return show(reply, interaction, 200, 'Choose a role', chooseRoleForm({
      interaction: interaction.id, csrf: csrfFor(request, reply, interaction), clientName: client.name, roles: flow.rolesFor(client, session),
    }))
  })

  app.post('/role', {
    ...app.rateLimited('token'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, role: Field(200), csrf: Type.Optional(Field(100)) }) },
  }, async (request, reply) => {
    const step = await loggedInStep(request, request.body.interaction)
    if (!step) return gone(reply)
    const { interaction, session, client } = step
    if (!csrfValid(request, interaction, request.body.csrf)) return forged(reply)
    if (step.at !== 'choose-role' || !session) return proceed(app, reply, interaction, session, 303)
    const { role } = request.body
    if (!flow.rolesFor(client, session).includes(role)) return show(reply, interaction, 400, 'Choose a role', message('Choose one of the roles listed.', 'alert'))
    // Remembered for the next first-party client's login in this browser; a third-party one always asks.
    if (client.firstParty) await browserSessions.chooseRole(session.id, role)
    const updated = { ...interaction, role: { accountId: session.accountId, name: role } }
    await interactions.save(updated)
    return proceed(app, reply, updated, session, 303)
  })

  app.get('/consent', { ...app.rateLimited('token'), schema: { ...hidden, querystring: InteractionQuery } }, async (request, reply) => {
    const step = await loggedInStep(request, request.query.interaction)
    if (!step) return gone(reply)
    const { interaction, session, client } = step
    if (step.at !== 'consent' || !session) return proceed(app, reply, interaction, session, 302)
    return show(reply, interaction, 200, 'Allow access?', consentForm({
      interaction: interaction.id, csrf: csrfFor(request, reply, interaction), clientName: client.name, scopes: interaction.request.scopes,
      role: flow.roleFor(interaction, client, session)!,
    }))
  })

  app.post('/consent', {
    ...app.rateLimited('token'),
    schema: { ...hidden, body: Type.Object({ interaction: InteractionId, decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]), csrf: Type.Optional(Field(100)) }) },
  }, async (request, reply) => {
    const step = await loggedInStep(request, request.body.interaction)
    if (!step) return gone(reply)
    const { interaction, session, client } = step
    if (!csrfValid(request, interaction, request.body.csrf)) return forged(reply)
    if (step.at !== 'consent' || !session) return proceed(app, reply, interaction, session, 303)
    if (request.body.decision === 'deny') {
      await consents.deny(session.accountId, client.id, request.ip)
      return answer(app, reply, interaction, { error: 'access_denied', error_description: 'The person did not allow access' }, 303)
    }
    await consents.grant(session.accountId, client.id, consentScopes(interaction.request, flow.roleFor(interaction, client, session)!), request.ip)
    const updated = { ...interaction, consentedBy: session.accountId }
    await interactions.save(updated)
    return proceed(app, reply, updated, session, 303)
  })
}
