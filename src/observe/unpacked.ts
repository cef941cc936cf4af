// Compares a folder with the archive it was unpacked from.
//
// Matching rule: an entry's key is its path without leading `./`, repeated or
// trailing slashes (entryKey). If every entry sits under one top-level folder
// named like the unpacked folder (`tar czf flow-x.tar.gz flow-x/`), that
// folder is removed from every key; otherwise keys are used as they are.
// Unsafe entries (and types we do not extract, such as devices) are not
// compared, and folder items at their keys are not reported as added.
import type { Dir, Dirent } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { posix, join } from 'node:path';
import { finding, type Finding } from '../model/findings.js';
import { entryKey, FindingCap, hasTopFolder, stripTopFolder, unsafeEntryReason } from './archive-safety.js';
import { CHUNK_SIZE, HashError, hashFile } from './hash.js';
import type { ArchiveInspection } from '../model/observation.js';

type FileHash =
  | { kind: 'file'; sha256: string }
  | { kind: 'gone' }
  | { kind: 'not-file' }
  | { kind: 'unreadable'; error: string };

/** Differences between `root/folderRel` and the archive's file entries. */
export async function compareFolderToArchive(
  root: string,
  folderRel: string,
  archive: ArchiveInspection,
): Promise<Finding[]> {
  const folderName = posix.basename(folderRel);
  const { files, skip } = expectedFiles(archive, folderName);
  // A damaged or cut-short inspection has not seen every entry: what the
  // folder has beyond it proves nothing, so only entries read in full are checked.
  const complete =
    archive.sha256 !== null &&
    !archive.findings.some((f) => f.code === 'RESOURCE_CORRUPT' || f.code === 'FILE_UNREADABLE');

  const at = (key: string): string => posix.join(folderRel, key);
  const modified = new FindingCap('ARTIFACT_MODIFIED', folderRel, 'modified files');
  const missing = new FindingCap('ARTIFACT_MISSING', folderRel, 'missing files');
  const added = new FindingCap('ARTIFACT_ADDED', folderRel, 'added files');
  const unreadable = new FindingCap('FILE_UNREADABLE', folderRel, 'unreadable files');
  const seen = new Set<string>();
  const blindDirs: string[] = [];
  const buf = Buffer.allocUnsafe(CHUNK_SIZE);

  const stack: string[] = [''];
  while (stack.length > 0) {
    const dirKey = stack.pop() as string;
    const abs = join(root, folderRel, dirKey);
    let dir: Dir;
    try {
      dir = await opendir(abs);
    } catch (err) {
      const code = errCode(err);
      if (dirKey === '') {
        const message = `unpacked folder cannot be read: ${code}`;
        return [finding('FILE_UNREADABLE', message, { path: folderRel, actual: code })];
      }
      // A folder that vanished or cannot be read: its expected files are not reported missing.
      if (code !== 'ENOENT') unreadable.add(`folder cannot be read: ${code}`, { path: at(dirKey), actual: code });
      blindDirs.push(`${dirKey}/`);
      continue;
    }
    try {
      // Streamed, not listed whole: a folder stuffed with files costs no memory here.
      for await (const d of dir) {
        const key = dirKey === '' ? d.name : `${dirKey}/${d.name}`;
        const kind = await direntKind(d, join(abs, d.name));
        if (kind === 'gone') continue;
        if (kind === 'dir') {
          stack.push(key);
          continue;
        }
        const want = files.get(key);
        if (want === undefined) {
          if (!skip.has(key) && complete) added.add(`file not in the archive: ${at(key)}`, { path: at(key) });
          continue;
        }
        seen.add(key);
        if (want === null) continue; // not read in full from the archive: nothing to compare with
        const got: FileHash = kind === 'file' ? await hashListed(join(abs, d.name), buf) : { kind: 'not-file' };
        switch (got.kind) {
          case 'file':
            if (got.sha256 !== want) {
              modified.add(`file differs from the archive: ${at(key)}`, {
                path: at(key),
                expected: want,
                actual: got.sha256,
              });
            }
            break;
          case 'not-file':
            modified.add(`not a regular file where the archive has one: ${at(key)}`, { path: at(key) });
            break;
          case 'gone':
            seen.delete(key);
            break;
          case 'unreadable':
            unreadable.add(`file cannot be read: ${got.error}`, { path: at(key), actual: got.error });
            break;
        }
      }
    } catch (err) {
      const code = errCode(err);
      unreadable.add(`folder listing failed: ${code}`, { path: at(dirKey), actual: code });
      blindDirs.push(dirKey === '' ? '' : `${dirKey}/`);
    }
  }

  for (const [key, sha] of files) {
    if (seen.has(key) || sha === null) continue;
    if (blindDirs.some((d) => key.startsWith(d))) continue;
    missing.add(`archive file missing from the folder: ${at(key)}`, { path: at(key), expected: sha });
  }
  return [...modified.findings(), ...missing.findings(), ...added.findings(), ...unreadable.findings()];
}

/**
 * Archive file keys mapped to their digests (null when the entry was not read
 * in full), and keys of entries that are not compared. A later entry with the
 * same key wins, as it does when tar extracts.
 */
function expectedFiles(
  archive: ArchiveInspection,
  folderName: string,
): { files: Map<string, string | null>; skip: Set<string> } {
  const safe = archive.entries.filter((e) => unsafeEntryReason(e.path, e.type) === null);
  const keys = safe.map((e) => entryKey(e.path));
  const strip = hasTopFolder(keys, folderName);
  const files = new Map<string, string | null>();
  const skip = new Set<string>();
  for (const e of archive.entries) {
    const raw = entryKey(e.path);
    const key = strip ? stripTopFolder(raw, folderName) : raw;
    if (key === '') continue;
    if (e.type === 'file' && unsafeEntryReason(e.path, e.type) === null) {
      files.set(key, e.sha256 ?? null);
      skip.delete(key);
    } else if (e.type !== 'directory') {
      files.delete(key);
      skip.add(key);
    }
  }
  return { files, skip };
}

async function direntKind(d: Dirent, abs: string): Promise<'dir' | 'file' | 'other' | 'gone'> {
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return 'other';
  // Some file systems do not report types in readdir.
  try {
    const st = await lstat(abs);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'gone';
  }
}

/** Hashes a listed file; one swapped for a link, FIFO or folder since listing is not a file. */
async function hashListed(abs: string, buffer: Buffer): Promise<FileHash> {
  try {
    return { kind: 'file', sha256: (await hashFile(abs, { buffer })).sha256 };
  } catch (err) {
    if (!(err instanceof HashError)) throw err;
    if (err.vanished) return { kind: 'gone' };
    if (['ELOOP', 'ENOTREG', 'EISDIR'].includes(err.code)) return { kind: 'not-file' };
    return { kind: 'unreadable', error: err.code };
  }
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
