import { randomBytes } from "node:crypto";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` so that readers never see a partial file: a temporary file in the same
 * folder, flushed, then renamed (`overwrite`) or hard-linked into place. Without `overwrite` an
 * existing `path` is left untouched and the error has code `EEXIST`. `data` may be a source of
 * pieces (called again if the content must be written twice), so a large file is never one string.
 */
export async function writeFileAtomic(
  path: string,
  data: string | (() => Iterable<string>),
  opts: { overwrite: boolean; /** Tests: how the temporary file is filled (a full disk). */ fill?: (handle: FileHandle, data: string) => Promise<void> },
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "wx", 0o644);
  try {
    if (opts.fill && typeof data === "string") await opts.fill(handle, data);
    else await writeAll(handle, data);
    await handle.sync();
  } catch (err) {
    // A full disk or a failed sync: the half-written temporary file is not left behind.
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    if (opts.overwrite) {
      await rename(tmp, path);
      return;
    }
    try {
      // link() fails with EEXIST instead of replacing, which rename() cannot promise.
      await link(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
      // No hard links on this filesystem: exclusive create, then the content.
      const out = await open(path, "wx", 0o644);
      try {
        await writeAll(out, data);
      } finally {
        await out.close();
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, data: string | (() => Iterable<string>)): Promise<void> {
  if (typeof data === "string") {
    await handle.writeFile(data, "utf8");
    return;
  }
  for (const piece of data()) await handle.write(piece, null, "utf8");
}
