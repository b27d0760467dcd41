import { freePort, freshDatabase, isReady, randomSecret, serviceEnv, start, cleanUp } from './environment.js'
await freshDatabase()
const secret = randomSecret()
for (const [label, args] of [['tsx', ['src/server.ts']], ['compiled', ['dist/server.js']]] as const) {
  const port = await freePort()
  const s = await start([...args], serviceEnv(port, secret), isReady(`http://127.0.0.1:${port}`))
  await new Promise((r) => setTimeout(r, 2000))
  const status = (await import('node:fs')).readFileSync(`/proc/${s.child.pid!}/status`, 'utf8')
  console.log(label, /VmRSS:\s+\d+ kB/.exec(status)![0], /VmHWM:\s+\d+ kB/.exec(status)![0])
  s.child.kill('SIGTERM')
}
await cleanUp()
process.exit(0)
