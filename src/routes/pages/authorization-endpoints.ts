import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { AuthorizationDenied, AuthorizationRequestRefused, InvalidAccessToken } from '../../core/errors.js'
import { checkAuthorizationRequest, checkRedirect, optionalSingle, redirectWith, type AuthorizationParameters } from '../../core/oidc/authorization-request.js'
import type { IdTokenHint } from '../../core/oidc/id-tokens.js'
import { clearBrowserSessionCookie, LOGOUT_FORM, proceed, readBrowserSession } from './authorization-steps.js'
import * as schemas from './authorization-schemas.js'
import { checkCsrf, issueCsrf } from './csrf.js'
import { cspSourceFor, pageCsp } from './layout.js'
import { send } from './responses.js'
import { logoutForm } from './views/login.js'
import { message } from './views/message.js'


/** OpenID Connect's browser endpoints: authorization (with the hosted login behind it) and end session. */
export const authorizationEndpoints: FastifyPluginAsyncTypebox = async (app) => {
  const { interactions, browserSessions, idTokens } = app.core.oidc
  const key = app.core.pageSigningKey
  const secure = app.config.ISSUER.startsWith('https:')

  async function authorize(request: FastifyRequest, reply: FastifyReply, params: AuthorizationParameters) {
    const status = request.method === 'POST' ? 303 : 302
    let redirect
    try {
      redirect = await checkRedirect(params, (id) => app.core.clients.find(id))
    } catch (error) {
      if (error instanceof AuthorizationRequestRefused) return send(reply, 400, 'Cannot log in', message(error.message, 'alert'))
      throw error
    }
    let authorization
    try {
      authorization = checkAuthorizationRequest(params, redirect.client, redirect.redirectUri)
    } catch (error) {
      if (!(error instanceof AuthorizationDenied)) throw error
      const state = typeof params.state === 'string' ? params.state : undefined
      return reply.redirect(redirectWith(redirect.redirectUri, { error: error.error, error_description: error.message, state, iss: app.config.ISSUER }), status)
    }
    const interaction = await interactions.start(authorization)
    return proceed(app, reply, interaction, await readBrowserSession(app, request), status, redirect.client)
  }

  app.get('/oauth/authorize', { ...app.rateLimited('token'), schema: schemas.authorizeGet }, async (request, reply) => authorize(request, reply, request.query))
  app.post('/oauth/authorize', { ...app.rateLimited('token'), schema: schemas.authorizePost }, async (request, reply) => authorize(request, reply, request.body))

  /** Where a logout may send the browser back: only to a URI the client registered for it, exactly. */
  async function logoutRedirect(params: AuthorizationParameters, hint: IdTokenHint | undefined): Promise<string | undefined | Error> {
    const uri = optionalSingle(params, 'post_logout_redirect_uri')
    const clientId = optionalSingle(params, 'client_id')
    if (hint && clientId && clientId !== hint.aud) return new Error('The client_id does not match the ID token.')
    if (!uri) return undefined
    const client = await app.core.clients.find(hint?.aud ?? clientId ?? '')
    if (!client?.postLogoutRedirectUris.includes(uri)) return new Error('The application asked to be sent back to an address it has not registered.')
    return redirectWith(uri, { state: optionalSingle(params, 'state') })
  }

  async function endSession(request: FastifyRequest, reply: FastifyReply, params: AuthorizationParameters) {
    if (Object.values(params).some(Array.isArray)) return send(reply, 400, 'Log out', message('A parameter is repeated.', 'alert'))
    let hint: IdTokenHint | undefined
    if (typeof params.id_token_hint === 'string' && params.id_token_hint !== '') {
      try {
        hint = await idTokens.verifyHint(params.id_token_hint)
      } catch (error) {
        if (error instanceof InvalidAccessToken) return send(reply, 400, 'Log out', message('The logout request is not valid.', 'alert'))
        throw error
      }
    }
    const target = await logoutRedirect(params, hint)
    if (target instanceof Error) return send(reply, 400, 'Log out', message(target.message, 'alert'))
    const session = await readBrowserSession(app, request)
    const status = request.method === 'POST' ? 303 : 302
    // With a hint, the browser session it names (sid) while it is still that person's: the client
    // proved it holds their ID token. That works without the cookie too (a cross-site form post).
    const named = hint?.sid ? await browserSessions.findById(hint.sid) : null
    const ending = hint && (named?.accountId === hint.sub ? named : session?.accountId === hint.sub ? session : null)
    if (ending) {
      await browserSessions.end(ending, 'rp_logout')
      return loggedOut(reply, target, status, ending.id === session?.id)
    }
    if (session) {
      // No hint, or one for someone else: any site could ask, so this browser's person confirms.
      reply.header('content-security-policy', pageCsp(target ? [cspSourceFor(target)] : []))
      const fields = { post_logout_redirect_uri: params.post_logout_redirect_uri as string | undefined, client_id: params.client_id as string | undefined, state: params.state as string | undefined }
      return send(reply, 200, 'Log out', logoutForm({ csrf: issueCsrf(request, reply, key, secure, LOGOUT_FORM), fields }))
    }
    return loggedOut(reply, target, status, false)
  }

  /** The answer once logged out: back to the client, or a page. The cookie goes only with the session it named. */
  async function loggedOut(reply: FastifyReply, target: string | undefined, status: 302 | 303, ended: boolean) {
    if (ended) clearBrowserSessionCookie(app, reply)
    if (target) return reply.redirect(target, status)
    return send(reply, 200, 'Logged out', message('You are logged out. You can close this window.'))
  }

  app.get('/oauth/end-session', { ...app.rateLimited('token'), schema: schemas.endSessionGet }, async (request, reply) => endSession(request, reply, request.query))
  app.post('/oauth/end-session', { ...app.rateLimited('token'), schema: schemas.endSessionPost }, async (request, reply) => endSession(request, reply, request.body))

  app.post('/account/logout', {
    ...app.rateLimited('token'),
    schema: {
      hide: true,
      body: Type.Object({
        csrf: Type.Optional(Type.String({ maxLength: 100 })), post_logout_redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
        client_id: Type.Optional(Type.String({ maxLength: 200 })), state: Type.Optional(Type.String({ maxLength: 2048 })),
      }),
    },
  }, async (request, reply) => {
    if (!checkCsrf(request, key, secure, request.body.csrf, LOGOUT_FORM)) {
      return send(reply, 403, 'Log out', message('This form has expired or was not sent from this page.', 'alert'))
    }
    const target = await logoutRedirect(request.body, undefined)
    if (target instanceof Error) return send(reply, 400, 'Log out', message(target.message, 'alert'))
    const session = await readBrowserSession(app, request)
    if (session) await browserSessions.end(session, 'logout')
    return loggedOut(reply, target, 303, session !== null)
  })
}
