import type { Config } from '../../config.js'
import { AuthorizationCodeRecords } from '../../stores/authorization-code-records.js'
import { BrowserSessionRecords } from '../../stores/browser-session-records.js'
import { ConsentRecords } from '../../stores/consent-records.js'
import type { PreparedQueries } from '../../stores/prepared-queries.js'
import type { KeyValueStore } from '../../stores/key-value-store.js'
import type { Accounts } from '../accounts.js'
import type { CoreEvents } from '../events.js'
import type { Sessions } from '../sessions.js'
import type { SigningKeys } from '../signing-keys.js'
import { AuthorizationCodes } from './authorization-codes.js'
import { AuthorizationFlow } from './authorization-flow.js'
import { BrowserSessions } from './browser-sessions.js'
import { Consents } from './consents.js'
import { IdTokens } from './id-tokens.js'
import { Interactions } from './interactions.js'

/** OpenID Connect's parts of the core: the hosted login's browser sessions, consents, codes and ID tokens. */
export function createOpenIdConnect(config: Config, prepared: PreparedQueries, kv: KeyValueStore, deps: { accounts: Accounts; sessions: Sessions; signingKeys: SigningKeys; events: CoreEvents }) {
  const idTokens = new IdTokens(deps.signingKeys, { issuer: config.ISSUER, ttlSeconds: config.ID_TOKEN_TTL, clockToleranceSeconds: config.CLOCK_TOLERANCE })
  const browserSessions = new BrowserSessions(prepared, new BrowserSessionRecords(prepared), deps.sessions, config.BROWSER_SESSION_TTL * 1000)
  const consents = new Consents(prepared, new ConsentRecords(prepared))
  const codes = new AuthorizationCodes(prepared, new AuthorizationCodeRecords(prepared), deps.accounts, deps.sessions, idTokens,
    config.AUTHORIZATION_CODE_TTL * 1000, deps.events)
  return {
    idTokens, browserSessions, consents, codes,
    interactions: new Interactions(kv),
    flow: new AuthorizationFlow(consents, codes),
  }
}
