import type { Static } from 'typebox'
import type { token } from './schemas.js'

/** The token endpoint's parameters, as its schema reads them. */
export type TokenRequest = Static<typeof token.body>
