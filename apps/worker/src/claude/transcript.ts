import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { placeIn, readNoFollow, writeNoFollow } from '../agent-user.js';

/**
 * Claude Code keeps a session in $HOME/.claude/projects/<cwd, slugged>/<session>.jsonl. A resumed session
 * is started with `--resume <file>`, which appends to that file in place; reins puts such files here.
 *
 * The home is the agent's (agent-user.ts): the worker follows no link in it, reading or writing, so an
 * agent cannot point a transcript at a file of the worker's, or a folder at somewhere else.
 */
export const resumeDir = (home: string): string => path.join(home, '.claude', 'reins-resume');

/** The transcript of a session in an agent home, wherever the CLI keeps it. */
export async function findTranscript(home: string, sessionId: string): Promise<{ file: string; bytes: number } | undefined> {
  const candidates = [path.join(resumeDir(home), `${sessionId}.jsonl`)];
  const projects = path.join(home, '.claude', 'projects');
  if ((await lstat(projects).catch(() => undefined))?.isDirectory()) {
    for (const dir of await readdir(projects).catch(() => [] as string[])) candidates.push(path.join(projects, dir, `${sessionId}.jsonl`));
  }
  let best: { file: string; bytes: number } | undefined;
  for (const file of candidates) {
    const info = await lstat(file).catch(() => undefined);
    if (info?.isFile() && (!best || info.size > best.bytes)) best = { file, bytes: info.size };
  }
  return best;
}

export interface PackedTranscript {
  transcriptGz?: Buffer;
  transcriptBytes: number;
  transcriptOmitted?: string;
}

/** Compresses a transcript for the cursor, or says why it is left out. */
export async function packTranscript(file: string, maxCompressedBytes: number): Promise<PackedTranscript> {
  const raw = await readNoFollow(file);
  const gz = gzipSync(raw, { level: 6 });
  if (gz.length > maxCompressedBytes) {
    return { transcriptBytes: raw.length, transcriptOmitted: `compressed transcript is ${gz.length} bytes, over the ${maxCompressedBytes}-byte cap` };
  }
  return { transcriptGz: gz, transcriptBytes: raw.length };
}

/** Writes a cursor's transcript where `--resume <file>` will read it; returns the file. */
export async function unpackTranscript(home: string, sessionId: string, transcriptGz: Buffer): Promise<string> {
  const file = await placeIn(home, ['.claude', 'reins-resume', `${sessionId}.jsonl`]);
  await writeNoFollow(file, gunzipSync(transcriptGz));
  return file;
}

/** What a cursor says about the session it checkpointed (a subset of Cursor). */
export interface SessionCursor {
  sessionId?: string | undefined;
  transcriptBytes?: number | undefined;
  transcriptGz?: Buffer | undefined;
}

/**
 * The session to resume, if a transcript of it can be had: the one in this home, or the cursor's,
 * whichever is longer. It is copied where `--resume <file>` appends to it.
 */
export async function resumableSession(home: string, cursor: SessionCursor | undefined): Promise<{ sessionId: string; file: string } | undefined> {
  const sessionId = cursor?.sessionId;
  if (!sessionId) return undefined;
  const local = await findTranscript(home, sessionId);
  if (local && local.bytes >= (cursor.transcriptBytes ?? 0)) {
    const file = path.join(resumeDir(home), `${sessionId}.jsonl`);
    if (local.file !== file) await writeNoFollow(await placeIn(home, ['.claude', 'reins-resume', `${sessionId}.jsonl`]), await readNoFollow(local.file));
    return { sessionId, file };
  }
  if (cursor.transcriptGz) return { sessionId, file: await unpackTranscript(home, sessionId, cursor.transcriptGz) };
  return undefined;
}
