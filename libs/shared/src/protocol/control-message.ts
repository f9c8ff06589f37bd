import { z } from 'zod';

/**
 * Commands to workers, published on the control channel (keys.controlChannel): `cancel` from `reins cancel`
 * (every agent of the run stops), `kill` from the scheduler's watchdog (one job whose heartbeat is missing).
 */
export const ControlMessageSchema = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('cancel'), runId: z.string() }), z.strictObject({ type: z.literal('kill'), jobId: z.string(), reason: z.string() })]);
export type ControlMessage = z.infer<typeof ControlMessageSchema>;

/** The message as it goes on the channel. */
export const encodeControlMessage = (message: ControlMessage): string => JSON.stringify(ControlMessageSchema.parse(message));

/** A message read off the channel, or undefined for one that is not ours (it is ignored, never trusted). */
export function decodeControlMessage(raw: string): ControlMessage | undefined {
  try {
    const parsed = ControlMessageSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
