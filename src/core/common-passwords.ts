import { dictionary } from '@zxcvbn-ts/language-common'

// The commonly used passwords a new password is checked against: zxcvbn-ts's list (MIT), about
// 49,000 passwords seen most often in breaches. Lower-cased once, on first use, so the check is
// case-insensitive ("Password1" is as guessable as "password1").
let common: Set<string> | undefined

export function isCommonPassword(password: string): boolean {
  common ??= new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()))
  return common.has(password.toLowerCase())
}
