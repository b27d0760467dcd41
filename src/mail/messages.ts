import { renderMail } from './templates.js'

/** A mail as the outbox stores it; `kind` says what it is for, in logs and metrics. */
export interface OutgoingMail {
  kind: MailKind
  recipient: string
  subject: string
  text: string
  html: string
}

export type MailKind = 'password_reset' | 'email_verification' | 'account_exists' | 'factor_added'

const SERVICE = 'Latchkey'

export function passwordResetMail(recipient: string, link: string, ttlSeconds: number): OutgoingMail {
  const subject = 'Reset your password'
  return { kind: 'password_reset', recipient, subject, ...renderMail('password-reset', subject, { link, minutes: minutes(ttlSeconds), service: SERVICE }) }
}

/**
 * Nothing the person signing up typed goes into a mail but the address itself: anyone can sign up
 * with anyone's email, and a name of their choosing would make these mails theirs to write.
 */
export function emailVerificationMail(recipient: string, link: string, ttlSeconds: number): OutgoingMail {
  const subject = 'Confirm your email address'
  return { kind: 'email_verification', recipient, subject, ...renderMail('email-verification', subject, { link, minutes: minutes(ttlSeconds), service: SERVICE }) }
}

/**
 * To the owner of an email that someone tried to register again (the registration's answer never
 * tells), with a link to choose a password: the way in for an owner who forgot it, or whose sign-up
 * was never confirmed.
 */
export function accountExistsMail(recipient: string, link: string, ttlSeconds: number): OutgoingMail {
  const subject = 'Someone tried to create an account with your email'
  return { kind: 'account_exists', recipient, subject, ...renderMail('account-exists', subject, { link, minutes: minutes(ttlSeconds), service: SERVICE }) }
}

/** To the owner, when a way to log in was added to the account: a `factor` such as "passkey". */
export function factorAddedMail(recipient: string, factor: string, accountPage: string): OutgoingMail {
  const subject = `A new ${factor} was added to your account`
  return { kind: 'factor_added', recipient, subject, ...renderMail('factor-added', subject, { factor, link: accountPage, service: SERVICE }) }
}

function minutes(seconds: number): string {
  return String(Math.max(1, Math.round(seconds / 60)))
}
