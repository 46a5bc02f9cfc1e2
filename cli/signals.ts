/** Stop a long-running command on SIGINT or SIGTERM; a second signal exits at once. */
export function stopOnSignals (stop: () => Promise<void>, onError: (err: unknown) => void): void {
  let stopping = false
  const handler = (): void => {
    if (stopping) process.exit(130)
    stopping = true
    stop().then(() => { process.exit(0) }, (err: unknown) => {
      onError(err)
      process.exit(1)
    })
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}
