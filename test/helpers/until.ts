/**
 * Waits for a condition that something running beside the test makes true (a gateway's state,
 * a message through Redis, a worker's write), polling, so that no test sleeps for a fixed time.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
