import crypto from 'node:crypto'
import type {
  AuthenticationResponseJSON, AuthenticatorTransportFuture, PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { InvalidPasskey } from '../errors.js'

// Loaded at the first ceremony, not at start: a quarter of a second of every process's start-up
// (its CBOR, ASN.1 and crypto modules), for a feature many deployments use rarely.
let library: Promise<typeof import('@simplewebauthn/server')> | undefined
const simpleWebAuthn = () => (library ??= import('@simplewebauthn/server'))

// The WebAuthn ceremonies, through @simplewebauthn/server, as plain values in and out. Whatever the
// library throws on input it cannot read (bad base64, CBOR, JSON, a wrong origin or RP id hash, a bad
// signature) becomes InvalidPasskey: a client's bytes never make a 5xx.

export interface RelyingParty {
  /** A host name (WEBAUTHN_RP_ID): credentials are scoped to it. */
  id: string
  name: string
  /** The origins a ceremony may come from (WEBAUTHN_ORIGINS). */
  origins: string[]
}

/** How long a ceremony's options, and so its challenge, stay usable. */
export const CEREMONY_TIMEOUT_MS = 120_000

const TRANSPORTS = new Set<string>(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])

export interface StoredCredential {
  credentialId: string
  publicKey: Uint8Array
  transports: string[]
}

export interface VerifiedRegistration {
  credentialId: string
  publicKey: Uint8Array
  signCount: number
  transports: string[]
}

export interface VerifiedAssertion {
  signCount: number
  userVerified: boolean
  /** Backup eligible: the private key may be synced off the device (a multi-device passkey). */
  backupEligible: boolean
}

/** 256 random bits, base64url: what the authenticator signs over. */
export const newChallenge = () => crypto.randomBytes(32).toString('base64url')

// The bytes, not the string: the library would take a string as UTF-8 and encode that again.
const challengeBytes = (challenge: string) => new Uint8Array(Buffer.from(challenge, 'base64url'))

/** The WebAuthn user handle for an account: its id's 16 bytes, nothing personal (WebAuthn §14.6.1). */
export const userHandleOf = (accountId: string) => Buffer.from(accountId.replace(/-/g, ''), 'hex')

export async function creationOptions(rp: RelyingParty, challenge: string, user: { id: string; email: string }, existing: StoredCredential[]): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await simpleWebAuthn()
  return generateRegistrationOptions({
    rpName: rp.name, rpID: rp.id, challenge: challengeBytes(challenge), timeout: CEREMONY_TIMEOUT_MS,
    userID: new Uint8Array(userHandleOf(user.id)), userName: user.email, userDisplayName: user.email,
    attestationType: 'none',
    // The same authenticator twice would be one factor counted as two.
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: knownTransports(c.transports) })),
    // Discoverable where the authenticator can, for the passwordless login.
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    supportedAlgorithmIDs: [-7, -8, -257],
  })
}

/**
 * Request options: for one account's credentials (second factor, owner's proof), or for any
 * discoverable one (passwordless, where user verification is required: the key is the only factor).
 */
export async function requestOptions(rp: RelyingParty, challenge: string, allow: StoredCredential[] | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await simpleWebAuthn()
  return generateAuthenticationOptions({
    rpID: rp.id, challenge: challengeBytes(challenge), timeout: CEREMONY_TIMEOUT_MS,
    allowCredentials: allow?.map((c) => ({ id: c.credentialId, transports: knownTransports(c.transports) })),
    userVerification: allow ? 'preferred' : 'required',
  })
}

/** The challenge a response's clientDataJSON claims to answer, or null when it cannot be read. */
export function challengeOf(response: unknown): string | null {
  const encoded = (response as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON
  if (typeof encoded !== 'string' || encoded.length > 4096) return null
  try {
    const challenge = (JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as { challenge?: unknown } | null)?.challenge
    return typeof challenge === 'string' && challenge.length > 0 ? challenge : null
  } catch {
    return null
  }
}

/** The credential id a response names, when it is a string. */
export function credentialIdOf(response: unknown): string | null {
  const id = (response as { id?: unknown } | null)?.id
  return typeof id === 'string' && id.length > 0 && id.length <= 1400 ? id : null
}

export async function verifyAttestation(rp: RelyingParty, response: unknown, challenge: string): Promise<VerifiedRegistration> {
  const { verifyRegistrationResponse } = await simpleWebAuthn()
  const verified = await refuseOnThrow(() => verifyRegistrationResponse({
    response: response as RegistrationResponseJSON, expectedChallenge: challenge,
    expectedOrigin: rp.origins, expectedRPID: rp.id, requireUserVerification: false,
  }))
  if (!verified.verified) throw new InvalidPasskey('attestation not verified')
  const { credential } = verified.registrationInfo
  return {
    credentialId: credential.id, publicKey: credential.publicKey, signCount: credential.counter,
    transports: knownTransports((response as RegistrationResponseJSON).response.transports ?? credential.transports ?? []),
  }
}

/**
 * Verifies an assertion's origin, RP id hash, challenge, user presence (and verification when
 * required) and signature. The counter is the caller's to judge, after the signature: a counter the
 * library would refuse before checking the signature proves nothing about a clone.
 */
export async function verifyAssertion(
  rp: RelyingParty, response: unknown, challenge: string, credential: StoredCredential, options: { requireUserVerification: boolean },
): Promise<VerifiedAssertion> {
  const { verifyAuthenticationResponse } = await simpleWebAuthn()
  const verified = await refuseOnThrow(() => verifyAuthenticationResponse({
    response: response as AuthenticationResponseJSON, expectedChallenge: challenge, expectedOrigin: rp.origins, expectedRPID: rp.id,
    credential: { id: credential.credentialId, publicKey: new Uint8Array(credential.publicKey), counter: 0 },
    requireUserVerification: options.requireUserVerification,
  }))
  if (!verified.verified) throw new InvalidPasskey('bad signature')
  const info = verified.authenticationInfo
  return { signCount: info.newCounter, userVerified: info.userVerified, backupEligible: info.credentialDeviceType === 'multiDevice' }
}

async function refuseOnThrow<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify()
  } catch (error) {
    throw new InvalidPasskey(reasonOf(error))
  }
}

// The library's messages quote the challenges and origins it compared; logs and audit get a category.
const REASONS: [RegExp, string][] = [
  [/origin/i, 'wrong origin'], [/RP ?ID/i, 'wrong relying party'], [/challenge/i, 'wrong challenge'],
  [/verif/i, 'user not verified'], [/present/i, 'user not present'], [/type/i, 'wrong ceremony type'],
]
const reasonOf = (error: unknown) => REASONS.find(([pattern]) => error instanceof Error && pattern.test(error.message))?.[1] ?? 'unreadable response'

function knownTransports(transports: unknown): AuthenticatorTransportFuture[] {
  return Array.isArray(transports) ? transports.filter((t): t is AuthenticatorTransportFuture => typeof t === 'string' && TRANSPORTS.has(t)) : []
}
