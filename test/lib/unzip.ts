// Reads and unpacks zips the way a Greengrass nucleus does for `Unarchive: ZIP`, for the
// packaging tests (no `unzip` on a fresh machine): entries in order, directories as they come,
// entries with an absolute path or ".." skipped (nucleus lite's ggl-zip/src/zip.c, validate_path).
import { createWriteStream } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';

export interface ZipEntryInfo {
  path: string;
  directory: boolean;
  /** Unix mode from the external attributes (0 when absent). */
  mode: number;
  size: number;
  compressedSize: number;
}

function open(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, z) => (err ? reject(err) : resolve(z!))));
}

function stream(z: yauzl.ZipFile, e: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => z.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s!))));
}

/** Calls onEntry for each entry in order; it may read the entry's bytes with read(). */
export async function forEachEntry(file: string, onEntry: (info: ZipEntryInfo, read: () => Promise<Buffer>) => Promise<void> | void): Promise<void> {
  const z = await open(file);
  await new Promise<void>((resolve, reject) => {
    z.on('error', reject);
    z.on('end', resolve);
    z.on('entry', (e: yauzl.Entry) => {
      const info: ZipEntryInfo = {
        path: e.fileName,
        directory: e.fileName.endsWith('/'),
        mode: (e.externalFileAttributes >>> 16) & 0o7777,
        size: e.uncompressedSize,
        compressedSize: e.compressedSize,
      };
      const read = async (): Promise<Buffer> => {
        const chunks: Buffer[] = [];
        for await (const c of await stream(z, e)) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      };
      Promise.resolve(onEntry(info, read)).then(() => z.readEntry(), reject);
    });
    z.readEntry();
  });
}

export async function listEntries(file: string): Promise<ZipEntryInfo[]> {
  const out: ZipEntryInfo[] = [];
  await forEachEntry(file, (i) => void out.push(i));
  return out;
}

/** Unpacks into dest; `mode` for every file when given (nucleus lite writes 0755 unless the recipe says). */
export async function unzipTo(file: string, dest: string, mode?: number): Promise<number> {
  let files = 0;
  const z = await open(file);
  await new Promise<void>((resolve, reject) => {
    z.on('error', reject);
    z.on('end', resolve);
    z.on('entry', (e: yauzl.Entry) => {
      const name = e.fileName;
      const unsafe = name.startsWith('/') || name.split('/').includes('..');
      const work = async (): Promise<void> => {
        if (unsafe) return;
        const target = join(dest, name);
        if (name.endsWith('/')) {
          await mkdir(target, { recursive: true });
          return;
        }
        await mkdir(join(target, '..'), { recursive: true });
        await pipeline(await stream(z, e), createWriteStream(target));
        const m = mode ?? (e.externalFileAttributes >>> 16) & 0o777;
        if (m) await chmod(target, m);
        files++;
      };
      work().then(() => z.readEntry(), reject);
    });
    z.readEntry();
  });
  return files;
}
