/**
 * What a case has set up (servers, databases, files), undone in reverse order however the case
 * ends. Every step runs even when an earlier one fails; failures are reported, not thrown, so
 * that the case's own error is the one that surfaces.
 */
export class Teardown {
  readonly #steps: (() => unknown)[] = [];

  /** Registers how to undo what was just set up, and returns the thing for convenience. */
  add<T>(thing: T, undo: (thing: T) => unknown): T {
    this.#steps.push(() => undo(thing));
    return thing;
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error('teardown step failed:', error);
      }
    }
  }
}
