/**
 * A test that fails on purpose, only when the runner's own test asks for it: `failPoint('name')`
 * throws when DRIFTLINE_TEST_FAIL is 'name'. test/scripts/run-tests.test.ts uses it to prove that a
 * failing test still releases what it started and that the run ends within its bound.
 */
export function failPoint(name: string): void {
  if (process.env.DRIFTLINE_TEST_FAIL === name) throw new Error(`failing on purpose at fail point '${name}' (DRIFTLINE_TEST_FAIL)`);
}
