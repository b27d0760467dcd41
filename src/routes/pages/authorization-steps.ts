import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ClientRecord } from '../../core/clients.js'
import type { LiveBrowserSession } from '../../core/oidc/browser-sessions.js'
import type { Interaction } from '../../core/oidc/interactions.js'
import { redirectWith, type AuthorizationRequest } from '../../core/oidc/authorization-request.js'
import { send } from './responses.js'
import { message } from './views/message.js'

// The browser session's cookie: HttpOnly, and SameSite=Lax because a client sends the browser here
// by a top-level navigation from its own site, which must carry it for single sign-on. Over HTTPS it
// is `__Host-`: no other host can set or scope it. No Max-Age: it ends with the browser, and the
// browser session itself within BROWSER_SESSION_TTL.

export function browserSessionCookie(secure: boolean): string {
  return secure ? '__Host-latchkey_session' : 'latchkey_session'
}

export function readBrowserSession(app: FastifyInstance, request: FastifyRequest): Promise<LiveBrowserSession | null> {
  return app.core.oidc.browserSessions.find(request.cookies[browserSessionCookie(app.config.ISSUER.startsWith('https:'))])
}

export function setBrowserSessionCookie(app: FastifyInstance, reply: FastifyReply, token: string): void {
  const secure = app.config.ISSUER.startsWith('https:')
  reply.setCookie(browserSessionCookie(secure), token, { path: '/', httpOnly: true, sameSite: 'lax', secure })
}

export function clearBrowserSessionCookie(app: FastifyInstance, reply: FastifyReply): void {
  const secure = app.config.ISSUER.startsWith('https:')
  reply.clearCookie(browserSessionCookie(secure), { path: '/', httpOnly: true, sameSite: 'lax', secure })
}

/** What the logout form's anti-forgery field is bound to. */
export const LOGOUT_FORM = 'logout'

export const INTERACTION_GONE = 'This login has expired or is already finished. Go back to the application and start again.'

/**
 * Takes an interaction one step on: to the page the person must see next, or back to the client
 * with the code or the error (RFC 6749 §4.1.2; `iss` as RFC 9207 asks, `state` as sent). The client
 * is read again (it may have gone since the interaction began), unless the caller read it for this
 * same request (`readNow`).
 */
export async function proceed(
  app: FastifyInstance, reply: FastifyReply, interaction: Interaction, session: LiveBrowserSession | null, status: 302 | 303, readNow?: ClientRecord,
) {
  const at = (path: string) => `/account/${path}?interaction=${encodeURIComponent(interaction.id)}`
  const { request } = interaction
  if (request === null) {
    // A login to manage the account: it counts only when made in this interaction.
    if (!session || interaction.loggedIn !== session.id) return reply.redirect(at('login'), status)
    await app.core.oidc.interactions.end(interaction.id)
    return reply.redirect('/account/security', status)
  }
  const client = readNow?.id === request.clientId ? readNow : await app.core.clients.find(request.clientId)
  if (!client?.redirectUris.includes(request.redirectUri)) {
    await app.core.oidc.interactions.end(interaction.id)
    return send(reply, 400, 'Cannot log in', message('The application that sent you here is no longer registered.', 'alert'))
  }
  const step = await app.core.oidc.flow.next({ ...interaction, request }, client, session)
  switch (step.kind) {
    case 'login': return reply.redirect(at('login'), status)
    case 'choose-role': return reply.redirect(at('role'), status)
    case 'consent': return reply.redirect(at('consent'), status)
    case 'answer': return answer(app, reply, { ...interaction, request }, step.parameters, status)
  }
}

/** Ends the interaction and sends the browser back to the client with `parameters`. */
export async function answer(app: FastifyInstance, reply: FastifyReply, interaction: Interaction & { request: AuthorizationRequest }, parameters: Record<string, string>, status: 302 | 303) {
  await app.core.oidc.interactions.end(interaction.id)
  const { redirectUri, state } = interaction.request
  return reply.redirect(redirectWith(redirectUri, { ...parameters, state, iss: app.config.ISSUER }), status)
}
