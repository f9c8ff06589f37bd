/**
 * The command that attaches a terminal to an agent's tmux session: its worker's private socket, and the
 * session targeted exactly (`=name`), since a plain `-t name` prefix-matches another session.
 */
export function tmuxAttachArgv(socket: string, session: string): string[] {
  return ['tmux', '-S', socket, 'attach', '-t', `=${session}`];
}

/** Quotes an argument for a POSIX shell only when it needs it, so a printed command stays copy-pasteable. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** tmuxAttachArgv as one line to show people. */
export function tmuxAttachCommand(socket: string, session: string): string {
  return tmuxAttachArgv(socket, session).map(shellQuote).join(' ');
}
