// TRUST_PROXY takes only the forms where the client address is a hop no trusted proxy wrote.
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { fastifyTrustProxy } from '../../src/http/trust-proxy.js'
import { startServerProcess } from '../helpers/server-process.js'

const base = { LOG_LEVEL: 'silent' }
const trustProxy = (value?: string) => loadConfig({ ...base, TRUST_PROXY: value }).TRUST_PROXY

t.test('unset, empty, false and 0 trust no proxy', async (t) => {
  for (const value of [undefined, '', 'false', 'FALSE', '0', '00']) t.equal(trustProxy(value), false, String(value))
})

t.test('a whole number is a hop count', async (t) => {
  t.equal(trustProxy('1'), 1)
  t.equal(trustProxy(' 2 '), 2)
  const trust = fastifyTrustProxy(2) as (address: string, hop: number) => boolean
  t.same([0, 1, 2, 3].map((hop) => trust('203.0.113.9', hop)), [true, true, false, false], 'the first two hops from the socket are trusted, no more')
})

t.test('addresses and CIDRs, comma-separated, IPv4 and IPv6', async (t) => {
  t.same(trustProxy('127.0.0.1'), ['127.0.0.1'])
  t.same(trustProxy('10.0.0.0/8, 192.0.2.7 ,::1,fd00::/8'), ['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8'])
  t.same(trustProxy('loopback,uniquelocal'), ['loopback', 'uniquelocal'], 'proxy-addr\'s named ranges')
  t.same(fastifyTrustProxy(['10.0.0.0/8']), ['10.0.0.0/8'], 'handed to Fastify as they are')
})

t.test('true, a zero-length prefix and anything else are refused in one line that says what to set', async (t) => {
  for (const value of ['true', 'TRUE']) {
    const error = t.throws(() => trustProxy(value)) as Error
    t.equal(error.name, 'ConfigError')
    t.match(error.message, /^Invalid configuration: TRUST_PROXY=true would trust any X-Forwarded-For a client writes; set the number of proxies in front of the service \(e\.g\. TRUST_PROXY=1\) or their addresses and CIDRs/)
    t.notMatch(error.message, /\n/)
  }
  for (const value of ['0.0.0.0/0', '::/0', 'yes', '-1', '1.5', '10.0.0.0/33', '10.0.0.1/8/8', 'example.com', '10.0.0.0/255.0.0.0', ',']) {
    t.throws(() => trustProxy(value), /^Invalid configuration: TRUST_PROXY .*is neither a hop count nor an address or CIDR; set the number of proxies/, value)
  }
})

t.test('the service refuses to start with TRUST_PROXY=true', async (t) => {
  const started = startServerProcess(t, { TRUST_PROXY: 'true', DATA_DIR: '/nonexistent/never-opened' })
  await t.rejects(started, /server exited with 1:\nInvalid configuration: TRUST_PROXY=true would trust any X-Forwarded-For/)
})
