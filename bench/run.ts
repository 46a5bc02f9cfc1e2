/**
 * `npm run bench [-- SCENARIO [--key value ...]]`: runs the benchmark scenarios (all by
 * default), each bounded in time, on 127.0.0.1 only. Each prints a JSON line and a table.
 * `--cpu-prof DIR` makes the broker or server process under test write a V8 CPU profile
 * into DIR (summarize it with bench/lib/profile-summary.ts).
 */
const SCENARIOS: Record<string, () => Promise<{ run: (args: Record<string, string>) => Promise<void> }>> = {
  'end-to-end': async () => await import('./end-to-end.js'),
  'broker-routing': async () => await import('./broker-routing.js'),
  connections: async () => await import('./connections.js'),
  'server-start': async () => await import('./server-start.js'),
  'journal-compaction': async () => await import('./journal-compaction.js')
}

const argv = process.argv.slice(2)
const names = argv.filter((a, i) => !a.startsWith('--') && (i === 0 || !argv[i - 1]?.startsWith('--')))
const args: Record<string, string> = {}
for (let i = 0; i < argv.length; i++) {
  const a = argv[i] as string
  if (a.startsWith('--')) { args[a.slice(2)] = argv[i + 1] ?? ''; i++ }
}
// `--cpu-prof DIR`: the broker or server process under test writes a CPU profile there.
if (args['cpu-prof'] !== undefined) process.env.BENCH_CPU_PROF_DIR = (await import('node:path')).resolve(args['cpu-prof'])
const selected = names.length > 0 ? names : Object.keys(SCENARIOS)
for (const name of selected) {
  const load = SCENARIOS[name]
  if (load === undefined) {
    console.error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`)
    process.exit(2)
  }
  console.log(`\n## ${name}`)
  await (await load()).run(args)
}
