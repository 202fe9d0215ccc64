/** Progress lines on stderr for the long measurement scripts: `[name 12 s] message`, timed from the call. */
export function stderrLog(name: string): { log: (s: string) => void; elapsed: () => string } {
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  return { elapsed, log: (s: string): void => void process.stderr.write(`[${name} ${elapsed()}] ${s}\n`) };
}
