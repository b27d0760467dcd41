import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pageSecurityHeaders } from '../../plugins/security-headers.js'
import { accountPages } from './account-pages.js'
import { authorizationEndpoints } from './authorization-endpoints.js'
import { PAGE_CSP } from './layout.js'
import { linkPages } from './link-pages.js'
import { loginPages } from './login-pages.js'
import { pageErrorHandler } from './responses.js'

// The hosted pages: server-rendered HTML forms that work without JavaScript. Mailed links open
// /account/reset-password and /account/verify-email; OpenID Connect's authorization endpoint leads
// to the login pages (/account/login, /account/role, /account/consent); /oauth/end-session logs out.

/** Every hosted page shares the cookies, form parsing, error pages and headers set up here. */
const pages: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(cookie)
  await app.register(formbody, { bodyLimit: app.config.AUTH_BODY_LIMIT })
  app.setErrorHandler(pageErrorHandler)
  const headers = { ...pageSecurityHeaders(), 'content-security-policy': PAGE_CSP }
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
  await app.register(linkPages, { prefix: '/account' })
  await app.register(loginPages, { prefix: '/account' })
  await app.register(accountPages, { prefix: '/account' })
  await app.register(authorizationEndpoints)
}

export default pages
