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

/** One step of a close(): a name for the log, and the work. */
export type CloseStep = [name: string, step: () => unknown];

/**
 * Runs every step of a close() in order, each even when an earlier one threw, so one stuck connection
 * never leaves the others open. A failed step is logged with its name, not rethrown.
 */
export async function closeSteps(steps: readonly CloseStep[], logger: Pick<Logger, 'warn'>): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      logger.warn({ err: error, step: name }, 'close step failed');
    }
  }
}
