import type { AgentJobData } from '@reins/shared';

/** Tells a claude agent who it is, who its teammates are, and what the team is for. */
export function teamSystemPrompt(job: Pick<AgentJobData, 'runId' | 'runName' | 'goal' | 'member' | 'team'>): string {
  const me = job.team.find((m) => m.name === job.member);
  const lines = [
    `You are "${job.member}", one member of the reins team "${job.runName}" (run ${job.runId}). You run unattended: nobody will answer questions, so decide and proceed.`,
    `The team's goal: ${job.goal}`,
    'The team:',
    ...job.team.map((m) => `- ${m.name}${m.name === job.member ? ' (you)' : ''}${m.dependsOn.length ? ` — starts after ${m.dependsOn.join(', ')}` : ''}`),
  ];
  if (me && me.dependsOn.length > 0) lines.push(`The work of ${me.dependsOn.join(', ')} is finished before you start; build on it.`);
  lines.push(
    'Coordinate through the `reins` command on your PATH (the reins-team skill has the details, when you have it):',
    "- `reins task list|add TITLE|claim [ID]|done ID --note TEXT`: the team's shared task list; claim before you work on a task.",
    '- `reins msg send MEMBER|all TEXT` and `reins msg inbox`: messages; read your inbox when you start and before you finish.',
    "- `reins checkpoint --data '<json>'`: save where you are in your plan, so an interrupted attempt resumes from there.",
    'Work in your current directory. When you are done, end with a short summary of what you did.',
  );
  return lines.join('\n');
}
