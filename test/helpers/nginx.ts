// A real nginx reverse proxy of one test's own: config, pid, logs and temp files in a temp folder,
// in the foreground, stopped at teardown. Debian's `nginx` package; CI installs it (.ci/run).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitUntilListening } from './private-servers.js'

const NGINX = '/usr/sbin/nginx'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface ReverseProxy {
  port: number
  /** nginx's error log so far, for failure messages. */
  log(): string
  /** The access log so far, where the configuration writes one ('' otherwise). */
  accessLog(): string
}

const ACCESS_LOG = 'access.log'

/** nginx on a free 127.0.0.1 port, proxying everything to 127.0.0.1:`upstreamPort`, appending the peer to X-Forwarded-For. */
export function startNginx(t: Teardown, upstreamPort: number): Promise<ReverseProxy> {
  return runNginx(t, (port) => `
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`)
}

/** The address each answer came from, in a header the shipped config does not have: `$upstream_addr`. */
export const UPSTREAM_HEADER = 'x-test-upstream'

/**
 * The load balancer as shipped (deploy/nginx/latchkey.conf) in front of instances on these local
 * ports: only its listen address and its upstream servers are rewritten. Each answer names the
 * instance that gave it in UPSTREAM_HEADER. `port`: where to listen, if the instances must know it.
 */
export function startLoadBalancer(t: Teardown, instancePorts: number[], port?: number): Promise<ReverseProxy> {
  const shipped = fs.readFileSync(new URL('../../deploy/nginx/latchkey.conf', import.meta.url), 'utf8')
  const servers = [...shipped.matchAll(/^(\s*server )latchkey-(\d+):3000;/gm)]
  if (servers.length !== instancePorts.length || !/^\s*listen 80;/m.test(shipped)) {
    throw new Error(`deploy/nginx/latchkey.conf no longer has \`listen 80;\` and ${instancePorts.length} \`server latchkey-N:3000;\` lines: update startLoadBalancer`)
  }
  return runNginx(t, (port, dir) => `
  add_header ${UPSTREAM_HEADER} $upstream_addr always;
  ${shipped
    .replace(/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${port};`)
    .replace('/var/log/nginx/access.log', path.join(dir, ACCESS_LOG))
    .replace(/^(\s*server )latchkey-(\d+):3000;/gm, (_, head: string, n: string) => `${head}127.0.0.1:${String(instancePorts[Number(n) - 1])};`)}`, port)
}

/** nginx in the foreground with `http` holding what `server` gives for its port. */
async function runNginx(t: Teardown, server: (port: number, dir: string) => string, chosenPort?: number): Promise<ReverseProxy> {
  if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install Debian's nginx package (apt-get install -y nginx; .ci/run does)`)
  const port = chosenPort ?? await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-nginx-'))
  const errorLog = path.join(dir, 'error.log')
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, name)};`
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `
daemon off;
# One process, so nothing switches user (tests run as root, and the temp folder is root's).
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${errorLog} warn;
events { worker_connections 64; }
http {
  access_log off;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
${server(port, dir)}
}
`)
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit')
  // A backstop for a crashed test process; teardown is the normal way out.
  const killOnExit = () => child.kill('SIGKILL')
  process.on('exit', killOnExit)
  const log = () => stderr + (fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : '')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    process.off('exit', killOnExit)
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await waitUntilListening('nginx', child, port, log)
  const accessLog = () => (fs.existsSync(path.join(dir, ACCESS_LOG)) ? fs.readFileSync(path.join(dir, ACCESS_LOG), 'utf8') : '')
  return { port, log, accessLog }
}
