// Reads a configuration file (JSON or YAML) and the --expect input.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config.js';

export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    // YAML is a superset of JSON, so one parser reads both.
    return parseYaml(text, { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON or YAML: ${(err as Error).message}`);
  }
}

/** Reads a file, or standard input for "-", with a size cap. */
export async function readInput(path: string, maxBytes = 1024 * 1024): Promise<string> {
  if (path !== '-') {
    const text = await readFile(path, 'utf8');
    if (Buffer.byteLength(text) > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
    return text;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error(`standard input is larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
