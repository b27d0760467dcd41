// Docker cannot run here, so the promises of Dockerfile and docker-compose.yml are read from the files:
// the service's compose settings pass the real config loader as the image would run them, the
// key-encryption secret comes from a file that is never committed nor sent to a build, and the
// runtime stage has production dependencies only and runs as a user other than root.
import t from 'tap'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { ConfigSchema, loadConfig } from '../../src/config.js'

interface Service {
  build?: { context: string; target?: string }
  environment?: Record<string, string | number>
  secrets?: string[]
  depends_on?: Record<string, { condition: string }>
}
// Compose's `!reset` (drop what an extended service set) is read as the value it tags.
const composeTags = [{ tag: '!reset', collection: 'seq' as const, resolve: (value: unknown) => value }]
const compose = parse(await fs.readFile('docker-compose.yml', 'utf8'), { customTags: composeTags }) as { services: Record<string, Service>; secrets: Record<string, { file?: string }> }
const dockerfile = await fs.readFile('Dockerfile', 'utf8')
const latchkey = compose.services.latchkey!

/** The stages of the Dockerfile: name, base image and instructions (continuation lines joined). */
function stages(text: string) {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  const args = Object.fromEntries(lines.filter((l) => /^ARG \w+=/.test(l)).map((l) => l.slice(4).split('=') as [string, string]))
  const found: { name: string; from: string; lines: string[] }[] = []
  for (const line of lines) {
    const from = /^FROM (\S+)(?: AS (\S+))?$/i.exec(line)
    if (from) found.push({ from: from[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? ''), name: from[2] ?? '', lines: [] })
    else found.at(-1)?.lines.push(line)
  }
  return found
}
const allStages = stages(dockerfile)
const runtime = allStages.at(-1)!

t.test('the service\'s compose settings, with the image\'s ENV, load as the production service would', async (t) => {
  const secretDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-compose-'))
  t.teardown(() => fs.rm(secretDir, { recursive: true, force: true }))
  const secretFile = path.join(secretDir, 'key-encryption-secret')
  await fs.writeFile(secretFile, 'a-secret-made-once-with-openssl-rand-base64-48\n')

  const imageEnv = Object.fromEntries(runtime.lines.filter((l) => l.startsWith('ENV ')).flatMap((l) => l.slice(4).split(/\s+/).map((kv) => kv.split('=') as [string, string])))
  // Compose's ${NAME:-default}: the default, as on a machine where NAME is not set.
  const composeEnv = Object.fromEntries(Object.entries(latchkey.environment ?? {}).map(([name, value]) =>
    [name, String(value).replace(/\$\{\w+:-([^}]*)\}/g, '$1')]))
  const known = new Set(Object.keys(ConfigSchema.properties))
  for (const name of Object.keys(composeEnv)) t.ok(known.has(name.replace(/_FILE$/, '')), `${name} is a setting the service reads`)

  const config = loadConfig({ ...imageEnv, ...composeEnv, KEY_ENCRYPTION_SECRET_FILE: secretFile })
  t.equal(config.NODE_ENV, 'production', 'the image runs in production, where ISSUER must be set')
  t.equal(config.KEY_ENCRYPTION_SECRET, 'a-secret-made-once-with-openssl-rand-base64-48')
})

t.test('the key-encryption secret comes from a file, kept out of git and out of the build context', async (t) => {
  t.notOk('KEY_ENCRYPTION_SECRET' in (latchkey.environment ?? {}), 'not in the environment, where a new value on each `up` would lock the volume\'s keys')
  const mounted = /^\/run\/secrets\/(\w+)$/.exec(String(latchkey.environment?.KEY_ENCRYPTION_SECRET_FILE))
  if (!mounted) return t.fail('KEY_ENCRYPTION_SECRET_FILE names a Docker secret')
  t.ok(latchkey.secrets?.includes(mounted[1]!), 'the service has that secret')
  const source = compose.secrets[mounted[1]!]?.file
  if (!source) return t.fail('the secret is read from a file')
  const folder = path.posix.normalize(source).split('/')[0]!
  t.match(await fs.readFile('.gitignore', 'utf8'), new RegExp(`^${folder}/?$`, 'm'), `${folder}/ is ignored by git`)
  t.match(await fs.readFile('.dockerignore', 'utf8'), new RegExp(`^${folder}/?$`, 'm'), `${folder}/ is not sent to a build`)
})

t.test('migrations run once before the service, from the stage that has Prisma\'s CLI', async (t) => {
  const migrate = compose.services.migrate!
  const stage = allStages.find((s) => s.name === migrate.build?.target)
  if (!stage) return t.fail('the migrate service builds a stage of the Dockerfile')
  t.match(stage.lines.join('\n'), /npm", "run", "db:migrate"/)
  t.same(latchkey.depends_on?.migrate, { condition: 'service_completed_successfully' })
  t.equal(latchkey.build?.target, runtime.name, 'the service runs the last stage, which a plain `docker build` also gives')
})

t.test('the runtime stage: a tested Node LTS, production dependencies only, not root, a health check', async (t) => {
  const major = /^node:(\d+)[-.]/.exec(runtime.from)?.[1]
  const engines = (JSON.parse(await fs.readFile('package.json', 'utf8')) as { engines: { node: string } }).engines.node
  t.ok(major && new RegExp(`\\^${major}\\.`).test(engines), `node:${String(major)} is a line package.json's engines names (${engines})`)

  const steps = runtime.lines.join('\n')
  t.match(steps, /npm pkg delete devDependencies[^\n]*npm ci --omit=dev/, 'installs production dependencies only, with no devDependencies for npm to bring back as optional peers')
  t.notMatch(steps, /COPY --from=\S+ \S*node_modules/, 'no node_modules copied from a stage that has the development ones')
  const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1)?.slice(5).trim()
  t.ok(user && !['root', '0', '0:0'].includes(user), `runs as ${String(user)}, not root`)
  t.match(steps, /^HEALTHCHECK .*\/health\/ready/m)
  t.match(runtime.lines.at(-1), /^CMD \["node", "dist\/server\.js"\]$/, 'starts the compiled service directly, so SIGTERM reaches it')
})
