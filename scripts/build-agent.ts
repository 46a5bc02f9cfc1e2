/**
 * Builds the branch agent as one plain JavaScript file for small devices:
 * `dist/printmq-agent.mjs`, run with `node dist/printmq-agent.mjs [printmq agent flags]`.
 * An idle agent with 4 printers measured 138 MB RSS through tsx (TypeScript compiled in
 * the process) and 58 MB as this bundle, 52 MB with `node --lite-mode` (docs/agent.md,
 * "Footprint"). `printmq agent` keeps running from the sources through tsx.
 *
 *   npm run build:agent                      (tsx scripts/build-agent.ts)
 *   tsx scripts/build-agent.ts [--outfile FILE] [--minify whitespace|full|none] [--metafile FILE]
 *
 * Everything is bundled except the packages with native bindings
 * ({@link AGENT_EXTERNALS}), so the file must stay inside the project (dist/) where
 * node_modules resolves them. pino's transports (worker threads that load files next to
 * pino) do not work from the bundle; the agent logs to standard output without them.
 */
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build, type Metafile } from 'esbuild'

/** The project root (where package.json is). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Where `npm run build:agent` writes the bundle. */
export const DEFAULT_AGENT_BUNDLE = join(ROOT, 'dist', 'printmq-agent.mjs')

/**
 * Packages left out of the bundle and imported from node_modules at run time: those
 * with native bindings (`.node` files cannot be bundled). Both are imported only when
 * first needed: serialport by a serial printer, resvg by text in a script that is
 * printed as an image (agent/printers/complex-script.ts).
 */
export const AGENT_EXTERNALS: readonly string[] = ['serialport', '@serialport/*', '@resvg/*']

/**
 * How far the bundle is minified. `whitespace` (the default) measured smallest in RSS:
 * renaming identifiers (`full`) makes a smaller file but V8 then peaks at about 11 MB
 * of malloc while compiling it, against 6 MB, and glibc keeps most of that resident
 * (docs/performance.md, "Idle agent footprint"). `none` keeps the file readable.
 */
export type MinifyMode = 'whitespace' | 'full' | 'none'

/** Options of {@link buildAgent}. */
export interface BuildAgentOptions {
  /** Output file; default dist/printmq-agent.mjs. */
  readonly outfile?: string
  /** Default `whitespace`. */
  readonly minify?: MinifyMode
}

/** What {@link buildAgent} built. */
export interface BuiltAgent {
  readonly outfile: string
  readonly bytes: number
  readonly metafile: Metafile
}

/** Bundle cli/agent-entry.ts into one ESM file for Node 20. */
export async function buildAgent (options: BuildAgentOptions = {}): Promise<BuiltAgent> {
  const outfile = options.outfile ?? DEFAULT_AGENT_BUNDLE
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'cli', 'agent-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    ...minifyOptions(options.minify ?? 'whitespace'),
    // Not keepNames (as scripts/build-server.ts): it wraps function expressions in calls
    // that set their names, at run time. Without it, measured 05:02-05:03 on 2026-11-29
    // (`npm run bench:agent -- --node-flags="--lite-mode --no-expose-wasm" --variants
    // bundle`): 1,826 KiB instead of 1,925, idle RSS 50.6-50.8 MB instead of 51.7-51.8.
    // Names stay as written anyway with the default minification (whitespace only).
    keepNames: false,
    legalComments: 'none',
    external: [...AGENT_EXTERNALS],
    // Bundled CommonJS packages call require() for Node's own modules.
    banner: { js: "import { createRequire as __printmqCreateRequire } from 'node:module'; const require = __printmqCreateRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning'
  })
  const output = Object.values(result.metafile.outputs)[0]
  return { outfile, bytes: output?.bytes ?? 0, metafile: result.metafile }
}

function minifyOptions (mode: MinifyMode): { minifyWhitespace: boolean, minifyIdentifiers: boolean, minifySyntax: boolean } {
  const full = mode === 'full'
  return { minifyWhitespace: mode !== 'none', minifyIdentifiers: full, minifySyntax: full }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      outfile: { type: 'string' },
      minify: { type: 'string', default: 'whitespace' },
      metafile: { type: 'string' }
    }
  })
  const minify = values.minify
  if (minify !== 'whitespace' && minify !== 'full' && minify !== 'none') throw new Error(`--minify ${minify}: whitespace, full or none`)
  const built = await buildAgent({ ...(values.outfile !== undefined ? { outfile: values.outfile } : {}), minify })
  if (values.metafile !== undefined) await writeFile(values.metafile, JSON.stringify(built.metafile))
  console.log(`built ${built.outfile} (${Math.round(built.bytes / 1024)} KiB)`)
}
