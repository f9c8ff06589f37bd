import { stringify } from 'yaml';

/** Prints a planned team for people: YAML, ready to replace `plan: auto` in the harness file. */
export function renderTeam(team: unknown): string {
  return stringify({ team }, { lineWidth: 0 });
}
