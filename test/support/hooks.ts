// Global test hooks: an unhandled rejection anywhere fails the run instead of being lost.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${String(reason)}`);
});
