// REDIS_URL names one Redis server, a Sentinel set or a Cluster; a mistake stops the start with one
// line naming the variable, never the password.
import t from 'tap'
import { Cluster } from 'ioredis'
import { loadConfig } from '../../src/config.js'
import { parseRedisUrl } from '../../src/stores/redis-url.js'
import { RedisStore } from '../../src/stores/redis-store.js'

const load = (env: Record<string, string>) => loadConfig({ LOG_LEVEL: 'silent', ...env })

t.test('one server: redis:// and rediss:// go to ioredis as written', async (t) => {
  t.same(parseRedisUrl('redis://:pw@cache.internal:6380/2'), { kind: 'server', url: 'redis://:pw@cache.internal:6380/2' })
  t.same(parseRedisUrl('rediss://cache.internal'), { kind: 'server', url: 'rediss://cache.internal' })
  t.equal(load({ REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL, 'redis://127.0.0.1:6379')
})

t.test('a Sentinel set: the sentinels, then the master\'s name; the password is the data servers\'', async (t) => {
  t.same(parseRedisUrl('redis-sentinel://app:s%40cret@sentinel-1:26380,sentinel-2,[::1]:26381/mymaster'), {
    kind: 'sentinel',
    sentinels: [{ host: 'sentinel-1', port: 26380 }, { host: 'sentinel-2', port: 26379 }, { host: '::1', port: 26381 }],
    masterName: 'mymaster', username: 'app', password: 's@cret', tls: false,
  })
  t.match(parseRedisUrl('rediss-sentinel://s1/m'), { kind: 'sentinel', tls: true })
  t.equal(load({ REDIS_URL: 'redis-sentinel://s1/m', REDIS_SENTINEL_PASSWORD: 'x' }).REDIS_SENTINEL_PASSWORD, 'x')
})

t.test('a Cluster: some of its nodes, no path', async (t) => {
  t.same(parseRedisUrl('redis-cluster://:pw@node-1:7000,node-2'), {
    kind: 'cluster', nodes: [{ host: 'node-1', port: 7000 }, { host: 'node-2', port: 6379 }], password: 'pw', tls: false,
  })
  t.match(parseRedisUrl('rediss-cluster://node-1'), { kind: 'cluster', tls: true })
})

t.test('mistakes stop the start with one line naming REDIS_URL, never quoting its password', async (t) => {
  const cases: [string, RegExp][] = [
    ['http://:hunter2@cache:6379', /^Invalid configuration: REDIS_URL has the scheme "http:\/\/"; it must be one of redis:\/\/host:port, .*redis-sentinel:\/\/host:port,host:port\/master-name or redis-cluster:\/\/host:port,host:port/],
    ['cache:6379', /^Invalid configuration: REDIS_URL must be one of redis:\/\/host:port/],
    ['redis-sentinel://:hunter2@s1:26379,s2:26379', /^Invalid configuration: REDIS_URL names a Sentinel set, so its path must be the master's name as the sentinels know it, e\.g\. redis-sentinel:\/\/sentinel-1:26379,sentinel-2:26379\/mymaster$/],
    ['redis-sentinel://:hunter2@s1/mymaster/3', /REDIS_URL names a Sentinel set, so its path must be the master's name/],
    ['redis-cluster://:hunter2@n1:7000/0', /^Invalid configuration: REDIS_URL names a Cluster, which has no database number or name: remove the path after the hosts$/],
    ['redis-cluster://n1:70000', /^Invalid configuration: REDIS_URL lists "n1:70000", which is not host:port/],
    ['redis-cluster://:hunter2@n1:70000', /^Invalid configuration: REDIS_URL lists host 1, which is not host:port \(a password holding @ \/ : or % must be percent-encoded\)$/],
    ['redis-sentinel://:hun/ter2@s1/m', /^Invalid configuration: REDIS_URL lists host 1, which is not host:port/],
    ['redis-cluster://:hunter2@n1:7000,,n2', /^Invalid configuration: REDIS_URL must list at least one host, as host:port separated by commas$/],
    ['redis-cluster://:hunter2@n1?tls=true', /^Invalid configuration: REDIS_URL takes no query string or fragment with redis-cluster:\/\/$/],
    ['redis-sentinel://:hunter2%zz@s1/m', /^Invalid configuration: REDIS_URL holds a malformed percent-encoding/],
  ]
  for (const [url, message] of cases) {
    const error = t.throws(() => load({ REDIS_URL: url }), message, url) as Error
    t.equal(error.name, 'ConfigError')
    t.notMatch(error.message, /hun|ter2|\n/, 'one line, no password (nor a part of it)')
  }
})

t.test('REDIS_SENTINEL_PASSWORD without a Sentinel set, and a brace in a Cluster\'s key prefix, are refused', async (t) => {
  const error = t.throws(() => load({ REDIS_URL: 'redis://cache', REDIS_SENTINEL_PASSWORD: 'hunter2' }),
    /^Invalid configuration: REDIS_SENTINEL_PASSWORD is set, but REDIS_URL names no Sentinel set/) as Error
  t.notMatch(error.message, /hunter2/)
  t.throws(() => load({ REDIS_URL: 'redis-cluster://n1', REDIS_KEY_PREFIX: '{latchkey}:' }),
    /^Invalid configuration: REDIS_KEY_PREFIX must not contain \{ or \} on a Redis Cluster/)
  t.equal(load({ REDIS_URL: 'redis://cache', REDIS_KEY_PREFIX: '{latchkey}:' }).REDIS_KEY_PREFIX, '{latchkey}:', 'one server has no slots to spread')
})

t.test('the store hands ioredis the topology, credentials and TLS the URL names', async (t) => {
  const sentinel = new RedisStore('rediss-sentinel://app:data-pw@s1:26380,s2/mymaster', 'lk:', undefined, { sentinelPassword: 'sentinel-pw' })
  t.teardown(() => sentinel.close())
  t.equal(sentinel.clustered, false)
  t.match(sentinel.client.options, {
    sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }], name: 'mymaster', keyPrefix: 'lk:',
    username: 'app', password: 'data-pw', sentinelPassword: 'sentinel-pw',
    tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {}, failoverDetector: true, enableOfflineQueue: false,
  })

  const cluster = new RedisStore('rediss-cluster://:data-pw@n1:7000,n2:7001', 'lk:')
  t.teardown(() => cluster.close())
  t.equal(cluster.clustered, true)
  t.ok(cluster.client instanceof Cluster)
  t.match((cluster.client as Cluster).options, { keyPrefix: 'lk:', enableOfflineQueue: false, redisOptions: { password: 'data-pw', tls: {} } })
})
