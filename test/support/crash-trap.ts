// Process-level traps for adversarial tests: anything the package lets escape (an uncaught exception, a promise left
// rejected) is a failure of the test that provoked it, not a crash of the test run.

export interface CrashTrap {
  /** What escaped to the process since the trap was set. */
  readonly errors: unknown[];
  /** Removes the trap. */
  stop(): void;
}

export function trapCrashes(): CrashTrap {
  const errors: unknown[] = [];
  const onError = (err: unknown): void => {
    errors.push(err);
  };
  process.prependListener('uncaughtException', onError);
  process.prependListener('unhandledRejection', onError);
  return {
    errors,
    stop: () => {
      process.removeListener('uncaughtException', onError);
      process.removeListener('unhandledRejection', onError);
    },
  };
}
