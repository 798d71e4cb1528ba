/**
 * Runs `fn` with the process's unhandledRejection listeners (vitest's) swapped for a collector, and returns what
 * leaked. @livekit/agents 1.9's tts.ChunkedStream leaked every failed speech request as an unhandled rejection
 * until patches/@livekit+agents+1.9.0.patch; tests that drive such failures assert that nothing leaks.
 */
export async function withUnhandledRejectionsCaptured(fn: () => Promise<void>): Promise<unknown[]> {
  const previous = process.listeners('unhandledRejection');
  const captured: unknown[] = [];
  const collect = (reason: unknown) => captured.push(reason);
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', collect);
  try {
    await fn();
    // Rejections surface on a later tick than the stream's end.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('unhandledRejection', collect);
    for (const listener of previous) process.on('unhandledRejection', listener);
  }
  return captured;
}
