// The load generator, run as its own process so it does not share an event loop with the server.
// Reads a scenario (JSON file path in argv[2]), drives it with autocannon, prints one JSON result.
import fs from 'node:fs'
import http from 'node:http'
import autocannon from 'autocannon'
import { runCodeFlows, type CodeFlowScenario } from './code-flow.js'

export interface Scenario {
  name: string
  url: string
  path: string
  method?: 'GET' | 'POST'
  duration: number
  connections: number
  /**
   * A constant arrival rate (requests per second), open loop: one request every 1/rate seconds,
   * latency counted from when it was due, so a slow answer cannot hold later requests back
   * (no coordinated omission, as wrk2). autocannon's own overallRate sends each second's quota
   * back to back and then pauses, which measures saturation latency, not latency at that rate.
   */
  overallRate?: number
  headers?: Record<string, string>
  /** Rotating POST bodies: logins over many accounts. */
  bodies?: string[]
  /** Refresh chains: each response's new refresh token is used for a later request. */
  chain?: { tokens: string[]; format: 'native' | 'oauth-form'; params?: Record<string, string> }
  /** Rotating bearer tokens. */
  bearers?: string[]
  /** Whole logins by the authorization code flow instead of single requests: requestsPerSecond is logins per second. */
  codeFlow?: CodeFlowScenario
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
    if (scenario.bearers) req.headers = { ...req.headers, authorization: `Bearer ${scenario.bearers[next++ % scenario.bearers.length]!}` }
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

/** The median and 99th percentile of `latencies` (ms), to a tenth of a millisecond; one sort for both. */
function percentiles(latencies: number[]): { p50: number; p99: number } {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10
  return { p50: at(0.5), p99: at(0.99) }
}

async function closedLoop(): Promise<LoadResult> {
  // autocannon's percentiles come from a histogram of whole milliseconds, which cannot tell a 2.0 ms
  // median from a 2.9 ms one; each answer's time as autocannon measured it is finer.
  const latencies: number[] = []
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url: scenario.url, duration: scenario.duration, connections: scenario.connections, requests: [request] }
    autocannon(options, (error: Error | null, done) => {
      if (error) reject(error)
      else resolve(done)
    }).on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 400) latencies.push(responseTime)
    })
  })
  return {
    name: scenario.name,
    requestsPerSecond: result.requests.average,
    ...percentiles(latencies),
    // 304s are successes here (the If-None-Match scenario); 4xx and 5xx are not.
    errors: result.errors + result.timeouts + result['4xx'] + result['5xx'],
    total: result.requests.total,
  }
}

async function openLoop(rate: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: scenario.connections })
  const send = (body: string | undefined) => new Promise<number>((resolve, reject) => {
    const req = http.request(new URL(scenario.path, scenario.url), { method: scenario.method ?? 'GET', headers: scenario.headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
  const latencies: number[] = []
  let errors = 0
  const interval = 1000 / rate
  const started = performance.now()
  const pending: Promise<void>[] = []
  for (let i = 0; started + i * interval < started + scenario.duration * 1000; i++) {
    const due = started + i * interval
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const body = scenario.bodies?.[i % scenario.bodies.length]
    pending.push(send(body).then(
      (status) => {
        latencies.push(performance.now() - due)
        if (status >= 400) errors++
      },
      () => {
        errors++
      },
    ))
  }
  await Promise.all(pending)
  agent.destroy()
  return { name: scenario.name, requestsPerSecond: latencies.length / scenario.duration, ...percentiles(latencies), errors, total: latencies.length }
}

async function codeFlows(flow: CodeFlowScenario): Promise<LoadResult> {
  return { name: scenario.name, ...await runCodeFlows(scenario.url, flow, scenario.connections, scenario.duration) }
}

// The load starts now: the bench measures the server's CPU from this line on, not over this process's start.
console.log(JSON.stringify({ started: true }))
console.log(JSON.stringify(scenario.codeFlow ? await codeFlows(scenario.codeFlow)
  : scenario.overallRate ? await openLoop(scenario.overallRate) : await closedLoop()))
