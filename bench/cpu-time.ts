// CPU time as the kernel counts it (Linux /proc), to put a CPU cost on each request beside its rate.
// On a shared machine a flow's throughput moves by tens of percent between runs; the CPU each request
// costs moves far less, so a change that saves work shows here when req/s cannot tell it from noise.
import fs from 'node:fs'

// /proc counts in clock ticks of USER_HZ, 100 per second on every Linux architecture Node runs on.
const MS_PER_TICK = 10

/** utime + stime of /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat, in ms; 0 once the process is gone. */
function cpuMsOf(statPath: string): number {
  let stat: string
  try {
    stat = fs.readFileSync(statPath, 'utf8')
  } catch {
    return 0
  }
  // The command name (field 2) may hold spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK
}

/** CPU ms of every process whose command name is `name` (postgres backends, redis-server), by pid. */
function cpuMsOfAll(name: string): Map<number, number> {
  const byPid = new Map<number, number>()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let comm: string
    try {
      comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim()
    } catch {
      continue
    }
    if (comm === name) byPid.set(Number(entry), cpuMsOf(`/proc/${entry}/stat`))
  }
  return byPid
}

/** What the processes of `before` and `after` spent between them: a process that ended meanwhile counts nothing. */
function spentBetween(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0)
  return spent
}

export interface CpuSample {
  server: number
  serverMain: number
  postgres: Map<number, number>
  redis: Map<number, number>
}

/** CPU ms per request, by where it was spent. */
export interface CpuPerRequest {
  /** The server process, all threads: its event loop, and the libuv pool where argon2 and signing run. */
  server: number
  /** The server's main thread alone: the event loop. */
  serverMain: number
  postgres: number
  redis: number
}

export function sampleCpu(serverPid: number): CpuSample {
  return {
    server: cpuMsOf(`/proc/${serverPid}/stat`),
    serverMain: cpuMsOf(`/proc/${serverPid}/task/${serverPid}/stat`),
    postgres: cpuMsOfAll('postgres'),
    redis: cpuMsOfAll('redis-server'),
  }
}

export function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number): CpuPerRequest {
  const per = (ms: number) => ms / Math.max(1, requests)
  return {
    server: per(after.server - before.server),
    serverMain: per(after.serverMain - before.serverMain),
    postgres: per(spentBetween(before.postgres, after.postgres)),
    redis: per(spentBetween(before.redis, after.redis)),
  }
}
