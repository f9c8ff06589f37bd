/** How to start one agent attempt: the program and its arguments, and its whole environment. */
export interface AgentInvocation {
  argv: string[];
  env: Record<string, string>;
}
