/**
 * Builds the `printmq` command line (server, migrate, token, ... every command of
 * `bin/printmq.js`) as plain JavaScript: `dist/printmq.mjs` and its chunks in
 * `dist/chunks/`, run with `node dist/printmq.mjs server`. printmq's TypeScript and the
 * packages it uses are compiled in ahead of time, except {@link SERVER_EXTERNALS}.
 *
 * Why: `bin/printmq.js` compiles and loads the TypeScript sources through tsx's loader
 * hooks at every start, and Node then finds and reads some thousand package files one
 * by one. Measured on the 2-core VM (`npm run bench -- server-start --database URL`;
 * docs/performance.md, "Server start, sixth round"), `printmq server` on PostgreSQL was
 * ready after 2.28-2.62 s and 3.52-4.03 s of CPU that way, and after 1.01-1.09 s and
 * 1.19-1.28 s of CPU from this build. After a crash or a deploy, the start is what
 * every reconnecting agent waits for.
 *
 *   npm run build                            (tsx scripts/build-server.ts)
 *   tsx scripts/build-server.ts [--outfile FILE] [--metafile FILE]
 *
 * The files must stay inside the project (dist/), where node_modules resolves the
 * external packages. They are not minified: stack traces stay readable.
 */
import { rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build, type Metafile } from 'esbuild'
import { ROOT } from './build-agent.js'

/** Where `npm run build` writes the bundle. */
export const DEFAULT_SERVER_BUNDLE = join(ROOT, 'dist', 'printmq.mjs')

/**
 * Packages left out of the build and imported from node_modules at run time: those that
 * read files next to their own module (PGlite its WebAssembly and data files, Swagger
 * UI its static files) or carry native bindings (loaded only when used). pg-native is
 * an optional native driver that pg asks for only when told to.
 */
export const SERVER_EXTERNALS: readonly string[] = ['@electric-sql/pglite', '@fastify/swagger-ui', 'serialport', '@serialport/*', '@resvg/*', 'pg-native']

/** What {@link buildServer} built. */
export interface BuiltServer {
  readonly outfile: string
  readonly bytes: number
  readonly metafile: Metafile
}

/**
 * Bundle `entry` (default cli/printmq.ts, the whole command line) into ESM for Node 20:
 * one file per command and chunks they share.
 */
export async function buildServer (options: { readonly outfile?: string, readonly entry?: string } = {}): Promise<BuiltServer> {
  const outfile = options.outfile ?? DEFAULT_SERVER_BUNDLE
  // Chunk names carry a content hash: the last build's would pile up.
  await rm(join(dirname(outfile), 'chunks'), { recursive: true, force: true })
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [options.entry ?? join(ROOT, 'cli', 'printmq.ts')],
    // One chunk per command (code splitting): `printmq token` does not load the server's
    // packages, and the server does not load the agent's.
    outdir: dirname(outfile),
    entryNames: basename(outfile, '.mjs'),
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    external: [...SERVER_EXTERNALS],
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Not keepNames: it wraps every function expression in a call that sets its name,
    // also each time a closure is made on a hot path. Measured with the connections
    // benchmark: 0.93-0.95 ms of broker CPU per connect with it, 0.71-0.84 without.
    // Names stay as written anyway (nothing is minified); esbuild renames only where two
    // bundled modules use the same top-level name (a few in third-party packages).
    keepNames: false,
    legalComments: 'none',
    // Bundled CommonJS packages call require() for Node's own modules.
    banner: { js: "import { createRequire as __printmqCreateRequire } from 'node:module'; const require = __printmqCreateRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning'
  })
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0)
  return { outfile, bytes, metafile: result.metafile }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { outfile: { type: 'string' }, metafile: { type: 'string' } } })
  const built = await buildServer(values.outfile !== undefined ? { outfile: values.outfile } : {})
  if (values.metafile !== undefined) await writeFile(values.metafile, JSON.stringify(built.metafile))
  console.log(`built ${built.outfile} (${Math.round(built.bytes / 1024)} KiB)`)
}
