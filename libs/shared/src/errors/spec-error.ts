import { renderIssues, type InputIssue } from './issue.js';

/** A harness file that cannot be run. Nothing is enqueued when this is thrown. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(
    readonly source: string,
    readonly issues: readonly InputIssue[],
    options?: ErrorOptions,
  ) {
    super(`Invalid harness ${source}:\n${renderIssues(issues)}`, options);
  }
}

export const isSpecError = (error: unknown): error is SpecError => error instanceof SpecError;
