import fp from 'fastify-plugin'
import { ErrorEnvelope } from '../routes/native/envelope.js'
import { OAuthErrorBody } from '../routes/oauth/errors.js'
import { AccountRolesError, BookifyError, RakchaError } from '../routes/dialects/schemas.js'
import { passkeySharedSchemas } from '../routes/native/passkeys-schemas.js'

/**
 * Each surface's error body, added once at the root: routes refer to them by $ref (see
 * sharedResponse in src/http/openapi.ts), their serializers resolve them, and the OpenAPI document
 * lists each shape once under components.schemas.
 */
export default fp(async (app) => {
  for (const schema of [ErrorEnvelope, OAuthErrorBody, RakchaError, BookifyError, AccountRolesError, ...passkeySharedSchemas]) app.addSchema(schema)
}, { name: 'shared-schemas' })
