import type { App } from '../../src/app.js'
import { bearer } from './accounts.js'

const pause = () => new Promise((resolve) => setTimeout(resolve, 25))

/**
 * Requests in a loop on a few workers until stopped, each answer's status kept with its route: the
 * load a Redis failover happens under. Paced, so a store that fails fast does not spin the machine.
 */
export function steadyLoad(workers: Record<string, () => Promise<number>>) {
  let running = true
  const answers: { route: string; status: number }[] = []
  const done = Promise.all(Object.entries(workers).map(async ([route, send]) => {
    while (running) {
      answers.push({ route, status: await send() })
      await pause()
    }
  }))
  return {
    answers,
    async stop() {
      running = false
      await done
      return answers
    },
  }
}

/** The usual traffic: bearer checks, logins with the right password, and wrong passwords counted toward lockouts. */
export function identityTraffic(apps: App[], account: { email: string; password: string }, token: string) {
  let n = 0
  const next = () => apps[n++ % apps.length]!
  // From many addresses, so the password budget of none runs out: the rate limits are tested apart.
  const login = (password: string, email = account.email) =>
    next().inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: `10.9.${(n >> 8) & 255}.${n & 255}` })
  return steadyLoad({
    me: async () => (await next().inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode,
    login: async () => (await login(account.password)).statusCode,
    'wrong password': async () => (await login('wrong-password', `nobody-${n}@example.com`)).statusCode,
  })
}

/** What each route may answer while Redis fails over: its normal answers, or 503. Never a 500. */
export const ACCEPTABLE_DURING_FAILOVER: Record<string, number[]> = {
  me: [200, 503],
  login: [200, 503],
  'wrong password': [401, 503],
}

/** The answers no route should give: a status outside its acceptable ones. */
export function unexpectedAnswers(answers: { route: string; status: number }[]) {
  return answers.filter(({ route, status }) => !ACCEPTABLE_DURING_FAILOVER[route]?.includes(status))
}
