/** The CLI's exit codes, a contract for scripts. */
export const EXIT = {
  /** The run succeeded, or the command did what it was asked. */
  ok: 0,
  /** The run failed or was cancelled, or something outside the input went wrong (Redis down, say). */
  failed: 1,
  /** Invalid input: a bad spec, flag or argument. Nothing was enqueued. */
  invalid: 2,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
