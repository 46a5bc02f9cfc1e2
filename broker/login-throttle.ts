/**
 * Throttles failed logins, per source address and per login name (an agent's license
 * identity, `technician`, ...). After `maxFailures` failures within `windowMs`, further
 * logins from that address, or for that name, are refused without checking credentials
 * until the window has passed.
 *
 * One hostile client must not lock a legitimate one out: the per-name throttle does not
 * apply to an address that has logged in successfully with that name before (the
 * branch's own agent), and counters of one address or name never touch another's.
 */

/** Options of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures allowed within the window before logins are refused. */
  readonly maxFailures: number
  /** Length of the window, in milliseconds. */
  readonly windowMs: number
  /** Bound on tracked keys, so a flood of distinct names cannot grow memory without limit. */
  readonly maxTrackedKeys?: number
  readonly now?: () => number
}

interface Window { start: number, failures: number }

/** Why a login is being throttled, for the log. */
export type ThrottleReason = 'address' | 'name'

/** Failed-login bookkeeping. */
export class LoginThrottle {
  readonly #options: LoginThrottleOptions
  readonly #now: () => number
  readonly #maxKeys: number
  readonly #byAddress = new Map<string, Window>()
  readonly #byName = new Map<string, Window>()
  /** Addresses that have logged in successfully, per name. */
  readonly #trusted = new Map<string, Set<string>>()

  constructor (options: LoginThrottleOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#maxKeys = options.maxTrackedKeys ?? 100_000
  }

  /** `null` when this login may be checked, else which throttle holds it back. */
  check (address: string, name: string): ThrottleReason | null {
    if (this.#over(this.#byAddress, address)) return 'address'
    if (this.#over(this.#byName, name) && this.#trusted.get(name)?.has(address) !== true) return 'name'
    return null
  }

  /** Record a failed login; returns the throttles this failure engaged (for one log line each). */
  fail (address: string, name: string): ThrottleReason[] {
    const engaged: ThrottleReason[] = []
    if (this.#count(this.#byAddress, address) === this.#options.maxFailures) engaged.push('address')
    if (this.#count(this.#byName, name) === this.#options.maxFailures) engaged.push('name')
    return engaged
  }

  /** Record a successful login: this address is now trusted for `name`. */
  succeed (address: string, name: string): void {
    let addresses = this.#trusted.get(name)
    if (addresses === undefined) {
      if (this.#trusted.size >= this.#maxKeys) this.#trusted.delete(this.#trusted.keys().next().value as string)
      addresses = new Set()
      this.#trusted.set(name, addresses)
    }
    if (addresses.size >= 16) addresses.delete(addresses.values().next().value as string)
    addresses.add(address)
  }

  #over (map: Map<string, Window>, key: string): boolean {
    const window = map.get(key)
    if (window === undefined) return false
    if (this.#now() - window.start >= this.#options.windowMs) {
      map.delete(key)
      return false
    }
    return window.failures >= this.#options.maxFailures
  }

  /** Count one failure; returns the failures in the current window. */
  #count (map: Map<string, Window>, key: string): number {
    const now = this.#now()
    const window = map.get(key)
    if (window === undefined || now - window.start >= this.#options.windowMs) {
      if (window === undefined && map.size >= this.#maxKeys) map.delete(map.keys().next().value as string)
      map.set(key, { start: now, failures: 1 })
      return 1
    }
    return ++window.failures
  }
}
