import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  /** After this long, the graceful path is abandoned and the process exits. */
  deadlineMs: number;
  /** Runs once, on the first SIGINT or SIGTERM. */
  onShutdown: (signal: NodeJS.Signals) => Promise<void>;
}

/**
 * The one place that handles signals. The first signal starts a graceful shutdown with a deadline;
 * a second signal, or the deadline, forces the exit.
 */
export function handleShutdownSignals({ logger, deadlineMs, onShutdown }: ShutdownOptions): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown deadline passed: forcing exit');
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    onShutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Started by the CLI with an IPC channel: when the CLI dies, shut down as if told to.
  if (process.send) process.on('disconnect', () => onSignal('SIGTERM'));
}

/** One step of a close(): its name (for the log) and what it does. */
export type CloseStep = [name: string, run: () => Promise<unknown> | unknown];

/**
 * Runs every step of a close() in order, even when one throws: a failed step is logged and the next runs,
 * so a Redis that is already gone never leaves a timer ticking or a connection open.
 */
export async function closeSteps(steps: readonly CloseStep[], logger: Pick<Logger, 'warn'>): Promise<void> {
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (error) {
      logger.warn({ err: error, step: name }, 'close step failed');
    }
  }
}
