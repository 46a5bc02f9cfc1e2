/**
 * Agent configuration: flags override `PRINTMQ_*` variables; validated once, frozen.
 * Pure: the caller passes the parsed flags and the environment.
 */
import { resolve } from 'node:path'
import type { AgentRef } from '../shared/ids.js'
import { parseLicenseKey } from '../shared/license.js'
import { AgentBadLicenseError, AgentBadLogLevelError, AgentBadStateDirError, AgentBadUrlError } from './errors.js'

/** Flags of `printmq agent`, as `node:util` `parseArgs` returns them. */
export interface AgentFlags {
  readonly url?: string | undefined
  readonly license?: string | undefined
  readonly 'state-dir'?: string | undefined
  readonly 'log-level'?: string | undefined
}

/** Validated agent configuration. */
export interface AgentConfig {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  readonly url: string
  /** The license key; never log it. */
  readonly licenseKey: string
  /** The agent the license key names. */
  readonly agent: AgentRef
  /** Absolute directory of the journal. */
  readonly stateDir: string
  readonly logLevel: string
}

/** Protocols the agent can reach a broker with. */
export const BROKER_PROTOCOLS: readonly string[] = Object.freeze(['mqtt:', 'mqtts:', 'ws:', 'wss:'])
/** pino's levels. */
export const LOG_LEVELS: readonly string[] = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
/** Where the journal lives when nothing else is said. */
export const DEFAULT_STATE_DIR = './.agent-state'

interface Setting { readonly value: string | undefined, readonly source: string }

function pick (flag: string | undefined, flagName: string, env: NodeJS.ProcessEnv, variable: string): Setting {
  if (flag !== undefined) return { value: flag, source: `--${flagName}` }
  return { value: env[variable], source: variable }
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

/**
 * Build the agent's configuration from flags and environment; throws an error naming
 * the bad flag or variable.
 */
export function loadAgentConfig (flags: AgentFlags, env: NodeJS.ProcessEnv): AgentConfig {
  const license = checkLicense(pick(flags.license, 'license', env, 'PRINTMQ_LICENSE'))
  return Object.freeze({
    url: checkUrl(pick(flags.url, 'url', env, 'PRINTMQ_URL')),
    licenseKey: license.key,
    agent: Object.freeze({ ...license.agent }),
    stateDir: checkStateDir(pick(flags['state-dir'], 'state-dir', env, 'PRINTMQ_STATE_DIR')),
    logLevel: checkLogLevel(pick(flags['log-level'], 'log-level', env, 'PRINTMQ_LOG_LEVEL'))
  })
}
