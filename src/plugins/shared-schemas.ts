import fp from 'fastify-plugin'
import { ErrorEnvelope } from '../routes/native/envelope.js'
import { OAuthErrorBody } from '../routes/oauth/errors.js'
import { RakchaError } from '../routes/dialects/rakcha.js'
import { BookifyError } from '../routes/dialects/bookify.js'
import { AccountRolesError } from '../routes/dialects/account-roles.js'

/**
 * Each surface's error body, added once at the root: routes refer to them by $ref (see
 * sharedResponse in src/http/openapi.ts), their serializers resolve them, and the OpenAPI document
 * lists each shape once under components.schemas.
 */
export default fp(async (app) => {
  for (const schema of [ErrorEnvelope, OAuthErrorBody, RakchaError, BookifyError, AccountRolesError]) app.addSchema(schema)
}, { name: 'shared-schemas' })
