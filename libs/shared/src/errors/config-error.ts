import { renderIssues, type InputIssue } from './issue.js';

/** The environment or a flag holds a value reins cannot run with. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly issues: readonly InputIssue[],
    options?: ErrorOptions,
  ) {
    super(`Invalid configuration:\n${renderIssues(issues)}`, options);
  }
}

export const isConfigError = (error: unknown): error is ConfigError => error instanceof ConfigError;
