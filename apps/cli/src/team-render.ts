import { escapeControlChars } from '@reins/shared';
import { stringify } from 'yaml';

/**
 * Prints a planned team for people: YAML, ready to replace `plan: auto` in the harness file. The team
 * is the planner agent's: YAML escapes C0 controls in quoted strings but leaves C1 and bidi characters raw.
 */
export function renderTeam(team: unknown): string {
  return escapeControlChars(stringify({ team }, { lineWidth: 0 }));
}
