import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A file's first bytes, as readHead found them. */
export interface FileHead {
  /** At most the bytes asked for; empty when the file is not a regular one. */
  bytes: Buffer;
  /** The size stat gave when it was opened. */
  size: number;
  /** False for a folder, a device, a FIFO or a socket: nothing was read. */
  regular: boolean;
}

/**
 * Reads at most `maxBytes` from the start of a file, and nothing from one that is not a regular file. Opened
 * non-blocking, so a FIFO cannot hang the open, and read from the handle stat described, so a file swapped
 * after the check is not the one read. A file that grows while it is read still yields only `maxBytes`.
 */
export async function readHead(file: string, maxBytes: number): Promise<FileHead> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { bytes: Buffer.alloc(0), size: info.size, regular: false };
    const buffer = Buffer.alloc(Math.min(maxBytes, info.size + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: buffer.subarray(0, length), size: info.size, regular: true };
  } finally {
    await handle.close();
  }
}
