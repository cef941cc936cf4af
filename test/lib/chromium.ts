// Debian's chromium, headless, for tests that must see a page as a browser
// does: --dump-dom prints the DOM after the page loaded. No network, no
// profile of the user's, nothing left behind.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export function chromiumBinary(): string {
  for (const c of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (spawnSync('test', ['-x', c]).status === 0) return c;
  }
  throw new Error('chromium not found: apt-get install chromium');
}

/** The DOM of a local file after load, as serialised by the browser. */
export async function dumpDom(file: string, timeoutMs = 60_000): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'dw-chromium-'));
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(
        chromiumBinary(),
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
          '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--dump-dom', pathToFileURL(file).href,
        ],
        { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => (err ? reject(new Error(`chromium: ${err.message}\n${stderr.slice(-2000)}`)) : resolve(stdout)),
      );
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** Cell texts of each row of the table with the given id, from serialised HTML (tags stripped, entities decoded). */
export function tableRows(html: string, id: string): { attrs: Record<string, string>; cells: string[] }[] {
  const table = new RegExp(`<table[^>]*id="${id}"[^>]*>([\\s\\S]*?)</table>`).exec(html);
  if (!table) throw new Error(`no table #${id}`);
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table[1]!)?.[1] ?? '';
  const decode = (s: string) => s.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').trim();
  return [...body.matchAll(/<tr([^>]*)>([\s\S]*?)<\/tr>/g)].map((m) => ({
    attrs: Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, decode(a[2]!)])),
    cells: [...m[2]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode(c[1]!)),
  }));
}
