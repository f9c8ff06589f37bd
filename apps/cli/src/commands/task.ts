import { TaskError, TaskList, UsageError, escapeControlChars, terminalJson, type AgentRequest, type Task } from '@reins/shared';
import { RefusedByWorker, askOwnWorker, speaker } from '../agent-identity.js';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const TASK_HELP = `Usage: reins task add TITLE | list | claim [ID] | done ID [--note TEXT]   [--json] [--run RUN --as MEMBER]

The run's shared task list. Inside an agent it needs no flags; a person gives --run and --as.
A claim is atomic: two members can never hold one task.`;

/** One task for people; titles and notes are the agents' own words, so the line is escaped. */
const describe = (t: Task): string =>
  escapeControlChars(`#${t.id} ${t.status.padEnd(7)} ${t.title}${t.claimedBy ? `  (${t.status === 'done' ? 'done by' : 'held by'} ${t.claimedBy})` : ''}${t.note ? `  — ${t.note}` : ''}`);

export async function task(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'task',
    argv,
    { json: { type: 'boolean' }, note: { type: 'string' }, run: { type: 'string' }, as: { type: 'string' } },
    { min: 1, max: 2, names: 'add TITLE | list | claim [ID] | done ID' },
  );
  if (values.help) return help(TASK_HELP);
  const [verb, arg] = positionals as [string, string | undefined];
  const id = (raw: string | undefined, required: boolean): number | undefined => {
    if (raw === undefined && !required) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`reins task ${verb}: expected a task id (a whole number), got ${JSON.stringify(raw ?? '')}`);
    return n;
  };
  if (!['add', 'list', 'claim', 'done'].includes(verb)) throw new UsageError(`reins task: expected add, list, claim or done, got ${JSON.stringify(verb)}`);
  if (verb === 'add' && !arg?.trim()) throw new UsageError('reins task add: expected a TITLE');
  const who = speaker('task', values);
  const print = (t: Task | Task[]) => console.log(values.json ? terminalJson(t) : Array.isArray(t) ? t.map(describe).join('\n') || 'no tasks' : describe(t));
  if (who.via === 'worker') {
    const claimId = verb === 'claim' ? id(arg, false) : undefined;
    const request: AgentRequest =
      verb === 'add'
        ? { op: 'task.add', title: arg! }
        : verb === 'list'
          ? { op: 'task.list' }
          : verb === 'claim'
            ? { op: 'task.claim', ...(claimId === undefined ? {} : { id: claimId }) }
            : { op: 'task.done', id: id(arg, true)!, note: values.note ?? '' };
    try {
      print((await askOwnWorker(`task ${verb}`, who, request)) as Task | Task[]);
      return EXIT.ok;
    } catch (error) {
      if (!(error instanceof RefusedByWorker)) throw error;
      console.error(escapeControlChars(error.message));
      return EXIT.failed;
    }
  }
  const { runId, member } = who;
  const ctx = CliContext.fromEnv(flagOverrides(values));
  try {
    await (await ctx.store()).requireRun(runId);
    const tasks = new TaskList(await ctx.redis(), ctx.keys, runId);
    switch (verb) {
      case 'add':
        print(await tasks.add(arg!, member));
        break;
      case 'list':
        print(await tasks.list());
        break;
      case 'claim':
        print(await tasks.claim(member, id(arg, false)));
        break;
      case 'done':
        print(await tasks.done(id(arg, true)!, member, values.note ?? ''));
        break;
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TaskError) {
      console.error(escapeControlChars(`reins task ${verb}: ${error.message}`));
      return EXIT.failed;
    }
    throw error;
  } finally {
    await ctx.close();
  }
}
