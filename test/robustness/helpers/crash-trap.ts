/**
 * Records uncaught exceptions, unhandled rejections and process warnings while a test runs, so a
 * test can assert "the process did not crash" as an outcome instead of hoping the runner notices.
 */
export interface CrashTrap {
  readonly uncaught: unknown[];
  readonly unhandled: unknown[];
  readonly warnings: Error[];
  /** Stops recording. Idempotent. */
  dispose(): void;
}

export function trapCrashes(): CrashTrap {
  const uncaught: unknown[] = [];
  const unhandled: unknown[] = [];
  const warnings: Error[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const onWarning = (w: Error) => warnings.push(w);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  process.on('warning', onWarning);
  let disposed = false;
  return {
    uncaught,
    unhandled,
    warnings,
    dispose() {
      if (disposed) return;
      disposed = true;
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUnhandled);
      process.off('warning', onWarning);
    },
  };
}

/** A short description of what a trap caught, for assertion messages. */
export function describeTrap(trap: CrashTrap): string {
  const show = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  return JSON.stringify({ uncaught: trap.uncaught.map(show), unhandled: trap.unhandled.map(show) });
}
