/** Percentiles of a sample. */

/** The p-th percentile (0-100) of `values`, nearest-rank; NaN for an empty sample. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}

/** Round to `digits` decimals. */
export function round (value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
