import crypto from 'node:crypto'
import type { App } from '../../src/app.js'
import { bearer, createAccount, nativeLogin, type TestAccount } from './accounts.js'

// A software authenticator for tests, written from the WebAuthn spec rather than borrowed from the
// library under test: an ES256 key made with node:crypto, a real CBOR attestationObject (fmt "none")
// and authenticatorData, a clientDataJSON, and a DER ECDSA signature over authenticatorData and the
// clientDataJSON's SHA-256. The service verifies these with @simplewebauthn/server, unmocked.

type Cbor = number | string | Uint8Array | Cbor[] | Map<number | string, Cbor> | boolean

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length])
  if (length < 256) return Buffer.from([(major << 5) | 24, length])
  if (length < 65536) return Buffer.from([(major << 5) | 25, length >> 8, length & 255])
  const out = Buffer.alloc(5)
  out[0] = (major << 5) | 26
  out.writeUInt32BE(length, 1)
  return out
}

/** RFC 8949 CBOR, the few types WebAuthn needs. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'boolean') return Buffer.from([value ? 0xf5 : 0xf4])
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value)
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([head(3, bytes.length), bytes])
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value])
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)])
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])])
}

const sha256 = (data: Buffer | string) => crypto.createHash('sha256').update(data).digest()
const b64url = (data: Buffer) => data.toString('base64url')

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 }

export interface SoftCredential {
  id: Buffer
  privateKey: crypto.KeyObject
  publicKey: crypto.KeyObject
  userHandle: string
  rpId: string
  counter: number
}

/** What a test may change in one ceremony, to attack a rule. */
export interface CeremonyTweaks {
  origin?: string
  rpId?: string
  challenge?: string
  type?: string
  /** The counter to report; by default the credential's, raised by one. */
  counter?: number
  userVerified?: boolean
  userPresent?: boolean
  credential?: SoftCredential
  /** Sign with another key than the credential's. */
  signWith?: crypto.KeyObject
  userHandle?: string | null
}

export interface CreationOptions {
  challenge: string
  rp: { id?: string; name: string }
  user: { id: string; name: string }
  excludeCredentials?: { id: string }[]
}

export interface RequestOptions {
  challenge: string
  rpId?: string
  allowCredentials?: { id: string }[]
  userVerification?: string
}

/** An authenticator holding discoverable ES256 credentials, as a platform passkey provider does. */
export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = []

  constructor(readonly origin: string, readonly options: { backupEligible?: boolean; userVerifying?: boolean; counterStart?: number } = {}) {}

  /** navigator.credentials.create(): a RegistrationResponseJSON. */
  create(options: CreationOptions, tweaks: CeremonyTweaks = {}): Record<string, unknown> {
    const rpId = options.rp.id!
    if (options.excludeCredentials?.some((c) => this.credentials.some((own) => b64url(own.id) === c.id && own.rpId === rpId))) {
      throw new Error('InvalidStateError: this authenticator is excluded')
    }
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    // With tweaks.credential: the same credential id again (as an attacker replaying a known id would).
    const credential: SoftCredential = tweaks.credential ?? {
      id: crypto.randomBytes(32), privateKey, publicKey, userHandle: options.user.id, rpId, counter: this.options.counterStart ?? 0,
    }
    const jwk = credential.publicKey.export({ format: 'jwk' })
    const coseKey = cbor(new Map<number, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]))
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(credential.id.length)
    const attested = Buffer.concat([Buffer.alloc(16), idLength, credential.id, coseKey])
    const authData = this.authenticatorData(tweaks.rpId ?? rpId, FLAG.AT, tweaks.counter ?? credential.counter, tweaks, attested)
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, tweaks)
    const attestationObject = cbor(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))
    if (!tweaks.credential) this.credentials.push(credential)
    return {
      id: b64url(credential.id), rawId: b64url(credential.id), type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal', 'hybrid'] },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    }
  }

  /** navigator.credentials.get(): an AuthenticationResponseJSON, from the newest allowed credential. */
  get(options: RequestOptions, tweaks: CeremonyTweaks = {}): Record<string, unknown> {
    const rpId = options.rpId!
    const allowed = options.allowCredentials?.map((c) => c.id)
    const credential = tweaks.credential ?? [...this.credentials].reverse().find((c) => c.rpId === rpId && (!allowed || allowed.includes(b64url(c.id))))
    if (!credential) throw new Error('NotAllowedError: no credential for these options')
    const counter = tweaks.counter ?? (credential.counter > 0 || this.options.counterStart ? credential.counter + 1 : 0)
    credential.counter = counter
    const authData = this.authenticatorData(tweaks.rpId ?? rpId, 0, counter, tweaks)
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, tweaks)
    const signature = crypto.sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), tweaks.signWith ?? credential.privateKey)
    const userHandle = tweaks.userHandle === undefined ? credential.userHandle : tweaks.userHandle
    return {
      id: b64url(credential.id), rawId: b64url(credential.id), type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      authenticatorAttachment: 'platform', clientExtensionResults: {},
    }
  }

  private authenticatorData(rpId: string, extraFlags: number, counter: number, tweaks: CeremonyTweaks, attested = Buffer.alloc(0)): Buffer {
    let flags = extraFlags
    if (tweaks.userPresent ?? true) flags |= FLAG.UP
    if (tweaks.userVerified ?? this.options.userVerifying ?? true) flags |= FLAG.UV
    if (this.options.backupEligible) flags |= FLAG.BE | FLAG.BS
    const count = Buffer.alloc(4)
    count.writeUInt32BE(counter)
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, attested])
  }

  private clientData(type: string, challenge: string, tweaks: CeremonyTweaks): Buffer {
    return Buffer.from(JSON.stringify({ type: tweaks.type ?? type, challenge: tweaks.challenge ?? challenge, origin: tweaks.origin ?? this.origin, crossOrigin: false }))
  }
}

export interface PasskeyAccount extends TestAccount {
  authenticator: SoftAuthenticator
  passkeyId: string
  /** The access token of the password login the passkey was registered with. */
  token: string
}

/** Registers a passkey for a signed-in account through the native API. */
export async function registerPasskey(app: App, token: string, authenticator: SoftAuthenticator, name?: string): Promise<string> {
  const options = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/passkeys/options', headers: bearer(token) })
  if (options.statusCode !== 200) throw new Error(`options failed: ${options.statusCode} ${options.body}`)
  const response = authenticator.create(options.json<{ data: { options: CreationOptions } }>().data.options)
  const registered = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/passkeys', headers: bearer(token), payload: { response, ...(name ? { name } : {}) } })
  if (registered.statusCode !== 200) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`)
  return registered.json<{ data: { passkey: { id: string } } }>().data.passkey.id
}

/** An account with a passkey, registered through the native API from a software authenticator. */
export async function passkeyAccount(app: App, options: Parameters<typeof createAccount>[1] & { authenticator?: SoftAuthenticator } = {}): Promise<PasskeyAccount> {
  const account = await createAccount(app, options)
  const { token } = await nativeLogin(app, account)
  const authenticator = options.authenticator ?? new SoftAuthenticator(new URL(app.config.ISSUER).origin)
  return { ...account, authenticator, token, passkeyId: await registerPasskey(app, token, authenticator) }
}
