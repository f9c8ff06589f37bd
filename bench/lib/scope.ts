/**
 * Clean-up that always happens. Steps run in reverse order of registration, every one of them even when
 * another throws, and each within a deadline, so a stuck step (a fleet that will not stop) never keeps
 * the bench from removing the rest. Scopes still open when the bench is interrupted are closed by
 * closeOpenScopes().
 */
export class Scope {
  private readonly steps: { label: string; run: () => unknown }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly stepTimeoutMs = 90_000) {}

  defer(label: string, run: () => unknown): void {
    if (this.closing) throw new Error(`cannot defer "${label}": the scope is closing`);
    this.steps.push({ label, run });
  }

  /** Safe to call twice: the second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= this.runSteps();
    return this.closing;
  }

  private async runSteps(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await withDeadline(Promise.resolve().then(step.run), this.stepTimeoutMs, `clean-up "${step.label}"`);
      } catch (error) {
        console.error(`[bench] clean-up "${step.label}" failed: ${(error as Error).message}`);
      }
    }
  }
}

const open = new Set<Scope>();

/** Runs a story with a scope of its own, and closes it whatever the story does. */
export async function withScope<T>(story: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  open.add(scope);
  try {
    return await story(scope);
  } finally {
    await scope.close();
    open.delete(scope);
  }
}

/** Closes every scope still open, newest first (on an interrupt). */
export async function closeOpenScopes(): Promise<void> {
  for (const scope of [...open].reverse()) await scope.close();
}

/** Rejects with the label once the deadline passes; the promise itself is left to settle on its own. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
