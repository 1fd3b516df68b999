import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** Why a local input file was not read, in words that follow its path ("<path> is a FIFO, …"). */
export type LocalFileResult = { ok: true; data: Buffer } | { ok: false; code: "not-regular" | "too-large" | "unreadable"; reason: string };

/** Local files are read this much at a time (secret files and mappings are a few KiB). */
const READ_CHUNK_BYTES = 64 * 1024;

function kind(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a plain file";
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "not found";
  if (code === "EACCES" || code === "EPERM") return "not readable (permission denied)";
  if (code === "ELOOP") return "a symbolic link loop";
  if (code === "ENXIO") return "a socket or device that cannot be opened";
  return `unreadable (${code ?? "error"})`;
}

/**
 * Reads a small local input (mapping file, secret file) without trusting `stat`: the file is opened
 * non-blocking (a FIFO cannot hang the open), the open handle is checked to be a regular file
 * (symbolic links to one are fine), and at most `maxBytes + 1` bytes are read whatever size the
 * file claims (a /proc-style file reports 0), so `/dev/zero` or a huge file cannot eat memory.
 */
export function readLocalFile(path: string, maxBytes: number): LocalFileResult {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, code: "unreadable", reason: fsReason(err) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, code: "not-regular", reason: `${kind(st)}, not a regular file` };
    // Read in small chunks and keep an exact-size copy: a buffer of the cap for every file read
    // would hold a MiB per secret file for as long as the secret is kept.
    const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, maxBytes + 1));
    const parts: Buffer[] = [];
    let total = 0;
    try {
      while (total <= maxBytes) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, maxBytes + 1 - total), null);
        if (n === 0) break;
        parts.push(Buffer.from(chunk.subarray(0, n)));
        total += n;
      }
    } finally {
      chunk.fill(0);
    }
    if (total > maxBytes) return { ok: false, code: "too-large", reason: `larger than ${describeBytes(maxBytes)}` };
    return { ok: true, data: Buffer.concat(parts, total) };
  } catch (err) {
    return { ok: false, code: "unreadable", reason: fsReason(err) };
  } finally {
    closeSync(fd);
  }
}

/** `1 MiB`, `64 KiB`, or bytes. */
export function describeBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
