/**
 * Summarize V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- SCENARIO --cpu-prof DIR`):
 * top functions by self time, self time by module (package or printmq source file), and
 * the inclusive time of functions whose name or file matches `--match`.
 *
 *   node --import tsx bench/lib/profile-summary.ts FILE.cpuprofile [--top 30] [--match text] [--window FROM-TO]
 *
 * `--window 12-40` keeps the samples between 12 s and 40 s after the profile started (the
 * first line prints busy milliseconds per second, to find the measured phase).
 * `--callers writev` lists who called a (native) function, by the nearest frames outside Node.
 */
import { readFile } from 'node:fs/promises'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/** A short module name for a script URL: `aedes`, `node:internal/streams/...`, `broker/acl.ts`. */
function moduleOf (url: string): string {
  if (url === '') return '(native/vm)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : rest[0] ?? url
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 3).join('/')
  const src = url.replace(/^file:\/\//, '').replace(/\?.*$/, '')
  const match = /\/(api|broker|server|shared|agent|cli|bench|virtual-printer)\/(.*)$/.exec(src)
  return match === null ? src : `${match[1] as string}/${match[2] as string}`
}

function label (frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  return frame.url === '' ? name : `${name} ${moduleOf(frame.url)}:${frame.lineNumber + 1}`
}

/** Summarize one profile; returns printable lines. */
export function summarize (profile: Profile, top: number, match: string | null, window: readonly [number, number] | null = null, callersOf: string | null = null): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  let total = 0
  let at = 0
  const timeline: number[] = []
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    at += dt
    const id = profile.samples[i] as number
    const second = Math.floor(at / 1e6)
    if ((byId.get(id) as ProfileNode).callFrame.functionName !== '(idle)') timeline[second] = (timeline[second] ?? 0) + dt
    if (window !== null && (at < window[0] * 1e6 || at >= window[1] * 1e6)) continue
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
    total += dt
  }
  const idle = new Set(['(idle)', '(program)', '(garbage collector)'])
  const fn = new Map<string, number>()
  const mod = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const callers = new Map<string, number>()
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode
    const name = node.callFrame.functionName
    if (name === '(idle)') idleUs += us
    const key = idle.has(name) ? name : label(node.callFrame)
    fn.set(key, (fn.get(key) ?? 0) + us)
    const m = idle.has(name) ? name : moduleOf(node.callFrame.url)
    mod.set(m, (mod.get(m) ?? 0) + us)
    if (callersOf !== null && name === callersOf) {
      // Who called it: the nearest three frames outside Node's internals.
      const chain: string[] = []
      for (let cur = parent.get(id); cur !== undefined && chain.length < 3; cur = parent.get(cur)) {
        const frame = (byId.get(cur) as ProfileNode).callFrame
        if (frame.url !== '' && !frame.url.startsWith('node:')) chain.push(label(frame))
      }
      const key = chain.join(' < ')
      callers.set(key, (callers.get(key) ?? 0) + us)
    }
    if (match !== null) {
      // Inclusive: count each matching frame once per sample's stack.
      const seen = new Set<string>()
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const frame = (byId.get(cur) as ProfileNode).callFrame
        const l = label(frame)
        if (!seen.has(l) && (l.includes(match))) { seen.add(l); inclusive.set(l, (inclusive.get(l) ?? 0) + us) }
      }
    }
  }
  const busy = total - idleUs
  const pct = (us: number): string => `${(100 * us / Math.max(1, busy)).toFixed(1).padStart(5)}%`
  const lines = [
    `busy ms per second of the profile: ${Array.from(timeline, (us) => Math.round((us ?? 0) / 1000)).join(' ')}`,
    `${window === null ? 'whole profile' : `seconds ${window[0]} to ${window[1]}`}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)`
  ]
  const table = (title: string, map: Map<string, number>, n: number): void => {
    lines.push('', title)
    for (const [k, us] of [...map].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
  }
  table('self time by function', fn, top)
  table('self time by module', mod, Math.min(top, 25))
  if (callersOf !== null) table(`callers of ${callersOf} (nearest frames outside Node)`, callers, top)
  if (match !== null) table(`inclusive time of frames matching "${match}"`, inclusive, top)
  return lines
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const argv = process.argv.slice(2)
  const files: string[] = []
  let top = 30
  let match: string | null = null
  let window: [number, number] | null = null
  let callersOf: string | null = null
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i])
    else if (argv[i] === '--match') match = argv[++i] ?? null
    else if (argv[i] === '--callers') callersOf = argv[++i] ?? null
    else if (argv[i] === '--window') window = (argv[++i] ?? '').split('-').map(Number) as [number, number]
    else files.push(argv[i] as string)
  }
  for (const file of files) {
    console.log(`# ${file}`)
    console.log(summarize(JSON.parse(await readFile(file, 'utf8')) as Profile, top, match, window, callersOf).join('\n'))
  }
}
