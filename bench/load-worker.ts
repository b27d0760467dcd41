// The load generator, run as its own process so it does not share an event loop with the server.
// Reads a scenario (JSON file path in argv[2]), drives it with autocannon, prints one JSON result.
import fs from 'node:fs'
import autocannon from 'autocannon'

export interface Scenario {
  name: string
  url: string
  path: string
  method?: 'GET' | 'POST'
  duration: number
  connections: number
  /** Fixed total request rate (requests per second) instead of as fast as possible. */
  overallRate?: number
  headers?: Record<string, string>
  /** Rotating POST bodies: logins over many accounts. */
  bodies?: string[]
  /** Refresh chains: each response's new refresh token is used for a later request. */
  chain?: { tokens: string[]; format: 'native' | 'oauth-form'; params?: Record<string, string> }
  /** Rotating bearer tokens. */
  bearers?: string[]
}

export interface LoadResult {
  name: string
  requestsPerSecond: number
  p50: number
  p99: number
  errors: number
  total: number
}

const scenario = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as Scenario
let next = 0
const available = [...(scenario.chain?.tokens ?? [])]
const chainBody = (token: string) => scenario.chain!.format === 'native'
  ? JSON.stringify({ refresh_token: token })
  : new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...scenario.chain!.params }).toString()

const request: autocannon.Request = {
  method: scenario.method ?? 'GET',
  path: scenario.path,
  headers: scenario.headers,
  setupRequest: (req) => {
    if (scenario.bodies) req.body = scenario.bodies[next++ % scenario.bodies.length]
    if (scenario.bearers) req.headers = { ...req.headers, authorization: `Bearer ${scenario.bearers[next++ % scenario.bearers.length]}` }
    if (scenario.chain) {
      const token = available.shift()
      if (!token) throw new Error('refresh chains exhausted')
      req.body = chainBody(token)
    }
    return req
  },
  onResponse: (status, body) => {
    if (scenario.chain && status === 200) {
      const parsed = JSON.parse(body) as { refresh_token?: string; data?: { refresh_token?: string } }
      const token = parsed.data?.refresh_token ?? parsed.refresh_token
      if (token) available.push(token)
    }
  },
}

const result = await autocannon({
  url: scenario.url,
  duration: scenario.duration,
  connections: scenario.connections,
  ...(scenario.overallRate ? { overallRate: scenario.overallRate } : {}),
  requests: [request],
})
const output: LoadResult = {
  name: scenario.name,
  requestsPerSecond: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  // 304s are successes here (the If-None-Match scenario); 4xx and 5xx are not.
  errors: result.errors + result.timeouts + result['4xx'] + result['5xx'],
  total: result.requests.total,
}
console.log(JSON.stringify(output))
