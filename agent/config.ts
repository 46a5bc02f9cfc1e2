/**
 * Agent configuration: flags override `PRINTMQ_*` variables, which override a JSON
 * config file; validated once, frozen. Pure: the caller passes the parsed flags, the
 * environment and the parsed file.
 */
import { resolve } from 'node:path'
import type { AgentRef } from '../shared/ids.js'
import { parseLicenseKey } from '../shared/license.js'
import { AgentBadLicenseError, AgentBadLogLevelError, AgentBadSettingError, AgentBadStateDirError, AgentBadUrlError } from './errors.js'

/** Flags of `printmq agent`, as `node:util` `parseArgs` returns them. */
export interface AgentFlags {
  /** One or more broker URLs: the flag may be repeated, each value comma-separated. */
  readonly url?: string | readonly string[] | undefined
  readonly license?: string | undefined
  readonly 'state-dir'?: string | undefined
  readonly 'log-level'?: string | undefined
  readonly 'health-interval'?: string | undefined
  readonly 'status-interval'?: string | undefined
  readonly 'status-timeout'?: string | undefined
}

/**
 * Settings a `--config FILE` (JSON) may hold; flags and `PRINTMQ_*` variables win over
 * it. Keys as the flags, in camelCase: `{ "url", "license", "stateDir", "logLevel",
 * "healthInterval", "statusInterval", "statusTimeout" }` (intervals in ms).
 */
export type AgentFileConfig = Readonly<Record<string, unknown>>

const FILE_KEYS: Readonly<Record<string, string>> = Object.freeze({
  url: 'url',
  license: 'license',
  stateDir: 'state-dir',
  logLevel: 'log-level',
  healthInterval: 'health-interval',
  statusInterval: 'status-interval',
  statusTimeout: 'status-timeout'
})

/** Validated agent configuration. */
export interface AgentConfig {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://` (the first of `urls`). */
  readonly url: string
  /**
   * Every broker URL, in order of preference: instances of a cluster. The agent moves
   * to the next when the one it uses goes away.
   */
  readonly urls: readonly string[]
  /** The license key; never log it. */
  readonly licenseKey: string
  /** The agent the license key names. */
  readonly agent: AgentRef
  /** Absolute directory of the journal. */
  readonly stateDir: string
  readonly logLevel: string
  /** Interval of retained health messages, ms. */
  readonly healthIntervalMs: number
  /** Interval of idle printer status checks, ms; 0 turns them off. */
  readonly statusIntervalMs: number
  /** Time a printer has to answer one status request, ms. */
  readonly statusTimeoutMs: number
}

/** Protocols the agent can reach a broker with. */
export const BROKER_PROTOCOLS: readonly string[] = Object.freeze(['mqtt:', 'mqtts:', 'ws:', 'wss:'])
/** pino's levels. */
export const LOG_LEVELS: readonly string[] = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
/** Where the journal lives when nothing else is said. */
export const DEFAULT_STATE_DIR = './.agent-state'

interface Setting { readonly value: string | undefined, readonly source: string }

function pick (flags: Omit<AgentFlags, 'url'>, flagName: Exclude<keyof AgentFlags, 'url'>, env: NodeJS.ProcessEnv, variable: string, file: AgentFileConfig, fileName: string): Setting {
  const flag = flags[flagName]
  if (flag !== undefined) return { value: flag, source: `--${flagName}` }
  if (env[variable] !== undefined) return { value: env[variable], source: variable }
  const fileKey = Object.keys(FILE_KEYS).find((key) => FILE_KEYS[key] === flagName)
  const value = fileKey !== undefined ? file[fileKey] : undefined
  return { value: value === undefined ? undefined : String(value), source: `${fileName}: ${fileKey ?? flagName}` }
}

/** `zeroIsOff`: 0 turns the feature off (status checks); elsewhere 0 is refused. */
function checkMs ({ value, source }: Setting, fallback: number, min: number, zeroIsOff = false): number {
  if (value === undefined) return fallback
  const ms = Number(value)
  if (!/^\d+$/.test(value) || (ms === 0 && !zeroIsOff) || (ms !== 0 && ms < min) || ms > 24 * 3600 * 1000) {
    throw new AgentBadSettingError(source, `${JSON.stringify(value)} is not a number of milliseconds (${zeroIsOff ? '0 for off, or ' : ''}${min} to 86400000)`)
  }
  return ms
}

function checkFile (file: AgentFileConfig, fileName: string): void {
  for (const key of Object.keys(file)) {
    if (FILE_KEYS[key] === undefined) throw new AgentBadSettingError(fileName, `unknown setting ${JSON.stringify(key)}; known: ${Object.keys(FILE_KEYS).join(', ')}`)
  }
}

/**
 * The broker URLs: `--url` (repeated and/or comma-separated), else `PRINTMQ_URL`
 * (comma-separated), else the file's `url` (a string, comma-separated, or an array).
 */
function checkUrls (flags: AgentFlags, env: NodeJS.ProcessEnv, file: AgentFileConfig, fileName: string): string[] {
  let setting: { values: readonly unknown[], source: string }
  if (flags.url !== undefined) setting = { values: typeof flags.url === 'string' ? [flags.url] : flags.url, source: '--url' }
  else if (env.PRINTMQ_URL !== undefined) setting = { values: [env.PRINTMQ_URL], source: 'PRINTMQ_URL' }
  else if (file.url !== undefined) setting = { values: Array.isArray(file.url) ? file.url : [file.url], source: `${fileName}: url` }
  else setting = { values: [], source: '--url / PRINTMQ_URL' }
  const { source } = setting
  const urls = setting.values.flatMap((value) => String(value).split(',')).map((url) => url.trim()).filter((url) => url !== '')
  if (urls.length === 0) checkUrl({ value: undefined, source })
  return urls.map((value) => checkUrl({ value, source }))
}

function checkUrl ({ value, source }: Setting): string {
  if (value === undefined || value === '') {
    throw new AgentBadUrlError('--url / PRINTMQ_URL', 'the broker URL is required, e.g. mqtt://broker.example:1883')
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new AgentBadUrlError(source, `${JSON.stringify(value)} is not a URL`)
  }
  if (!BROKER_PROTOCOLS.includes(url.protocol)) {
    throw new AgentBadUrlError(source, `protocol ${url.protocol} is not one of ${BROKER_PROTOCOLS.join(' ')}`)
  }
  if (url.hostname === '') throw new AgentBadUrlError(source, 'the URL names no host')
  if (url.username !== '' || url.password !== '') {
    // The license key is the only credential; one in the URL would end up in logs.
    throw new AgentBadUrlError(source, 'the URL must not carry credentials; the license key is the password')
  }
  return value
}

function checkLicense ({ value, source }: Setting): { key: string, agent: AgentRef } {
  if (value === undefined || value === '') {
    throw new AgentBadLicenseError('--license / PRINTMQ_LICENSE', 'the license key is required')
  }
  const agent = parseLicenseKey(value)
  // Never echo the key itself: it is a secret.
  if (agent === null) throw new AgentBadLicenseError(source, 'not a printmq license key (pmq1.{tenant}.{branch}.{agent}.{secret})')
  return { key: value, agent }
}

function checkStateDir ({ value, source }: Setting): string {
  const dir = value ?? DEFAULT_STATE_DIR
  if (dir.trim() === '' || dir.includes('\u0000')) throw new AgentBadStateDirError(source, 'the state directory must be a path')
  return resolve(dir)
}

function checkLogLevel ({ value, source }: Setting): string {
  const level = value ?? 'info'
  if (!LOG_LEVELS.includes(level)) throw new AgentBadLogLevelError(source, level, LOG_LEVELS)
  return level
}

/** Defaults of the interval settings, ms. */
export const AGENT_DEFAULTS = Object.freeze({ healthIntervalMs: 15_000, statusIntervalMs: 5000, statusTimeoutMs: 2000 })

/**
 * Build the agent's configuration from flags, environment and a parsed `--config` file
 * (in that order of precedence); throws an error naming the bad flag, variable or key.
 */
export function loadAgentConfig (flags: AgentFlags, env: NodeJS.ProcessEnv, file: AgentFileConfig = {}, fileName = 'config file'): AgentConfig {
  checkFile(file, fileName)
  const get = (flag: Exclude<keyof AgentFlags, 'url'>, variable: string): Setting => pick(flags, flag, env, variable, file, fileName)
  const license = checkLicense(get('license', 'PRINTMQ_LICENSE'))
  const urls = checkUrls(flags, env, file, fileName)
  return Object.freeze({
    url: urls[0] as string,
    urls: Object.freeze(urls),
    licenseKey: license.key,
    agent: Object.freeze({ ...license.agent }),
    stateDir: checkStateDir(get('state-dir', 'PRINTMQ_STATE_DIR')),
    logLevel: checkLogLevel(get('log-level', 'PRINTMQ_LOG_LEVEL')),
    healthIntervalMs: checkMs(get('health-interval', 'PRINTMQ_HEALTH_INTERVAL_MS'), AGENT_DEFAULTS.healthIntervalMs, 1000),
    statusIntervalMs: checkMs(get('status-interval', 'PRINTMQ_STATUS_INTERVAL_MS'), AGENT_DEFAULTS.statusIntervalMs, 500, true),
    statusTimeoutMs: checkMs(get('status-timeout', 'PRINTMQ_STATUS_TIMEOUT_MS'), AGENT_DEFAULTS.statusTimeoutMs, 50)
  })
}
