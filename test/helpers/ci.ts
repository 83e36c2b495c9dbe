// In CI (CI=true, as .ci/run sets) every GPU and browser test must run: where one would be
// skipped for a missing driver or browser, the run fails instead of passing with skips.

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && !['', '0', 'false'].includes(env.CI.toLowerCase());
}

/** Throws (failing the whole vitest run from a global setup) when CI is set; else reports the skip. */
export function skipOrFailInCi(suite: string, reason: string): void {
  if (isCi()) throw new Error(`[${suite} tests] CI is set, so these tests must run, but they cannot: ${reason}`);
  console.log(`[${suite} tests] SKIPPED: ${reason}`);
}
