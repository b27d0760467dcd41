import * as client from 'openid-client'

// A client app logging its user in with Latchkey, as a public client (PKCE, no secret), with
// openid-client v6. Register it first with the redirect URI (docs/api.md, admin API or CLI).

/** Step 1: discover Latchkey and build the login URL. Keep `verifier` and `state` in the app's session; send the browser to `url`. */
export async function startLogin(issuer: string, clientId: string, redirectUri: string, options?: client.DiscoveryRequestOptions) {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), options)
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid profile email', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  return { config, url, verifier, state }
}

/** Step 2, at the redirect URI: redeem the code (openid-client checks `iss`, `state` and the ID token), then read the user. */
export async function finishLogin(config: client.Configuration, callbackUrl: URL, verifier: string, state: string) {
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state })
  const user = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
  return { tokens, user }
}
