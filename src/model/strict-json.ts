// JSON read the strict way: what JSON.parse accepts, except that an object
// naming one key twice is an error (JSON.parse keeps the last, so a second
// "greengrassGroupVersionId" would silently replace the first). Also reads a
// sequence of documents separated by white space (JSON lines, or the pretty
// outputs of a shell loop one after another). Pure.
//
// Errors say where: line and column of the offending character, and for a
// duplicate key the path of the object that holds it.

export class StrictJsonError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

/** One document of a sequence, with the line it starts on (1-based). */
export interface JsonDocument {
  value: unknown;
  line: number;
}

/** Deeper nesting than any AWS response needs, and far from the call stack's limit. */
const MAX_DEPTH = 256;

/** Parses exactly one JSON document (white space around it allowed). */
export function parseStrictJson(text: string): unknown {
  const p = new Parser(text);
  p.skipSpace();
  const value = p.value('', 0);
  p.skipSpace();
  if (!p.atEnd()) p.fail('unexpected text after the JSON document');
  return value;
}

/** Parses one or more JSON documents separated by white space. */
export function parseStrictJsonSequence(text: string): JsonDocument[] {
  const p = new Parser(text);
  const out: JsonDocument[] = [];
  p.skipSpace();
  while (!p.atEnd()) {
    const line = p.lineAt(p.pos);
    out.push({ value: p.value('', 0), line });
    const before = p.pos;
    p.skipSpace();
    // `}{` is unambiguous (jq reads it too); two numbers or words need a space between.
    if (!p.atEnd() && p.pos === before && !'}]"'.includes(p.charBefore())) p.fail('documents must be separated by white space or a new line');
  }
  return out;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  charBefore(): string {
    return this.s[this.pos - 1] ?? '';
  }

  atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  private lineCursor = { pos: 0, line: 1 };

  /** The line of pos; positions asked for in increasing order cost one pass in all. */
  lineAt(pos: number): number {
    let { pos: i, line } = pos >= this.lineCursor.pos ? this.lineCursor : { pos: 0, line: 1 };
    for (; i < pos; i++) if (this.s.charCodeAt(i) === 10) line++;
    this.lineCursor = { pos, line };
    return line;
  }

  fail(message: string, at = this.pos): never {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at && i < this.s.length; i++) {
      if (this.s.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    const near = at < this.s.length ? ` near ${JSON.stringify(this.s.slice(at, at + 12))}` : ' at the end of the input';
    throw new StrictJsonError(`${message} (line ${line}, column ${col}${near})`, line, col);
  }

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
  }

  value(path: string, depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const c = this.s[this.pos];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (c === undefined) this.fail('the JSON ends too early');
    return this.fail('unexpected character');
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return v;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail('malformed number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = '';
    let run = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(run, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in a string (it must be escaped)');
      if (c !== 92) {
        this.pos++;
        continue;
      }
      out += s.slice(run, this.pos);
      const e = s[this.pos + 1];
      if (e === 'u') {
        const hex = s.slice(this.pos + 2, this.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 6;
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        this.pos += 2;
      } else {
        this.fail('unknown escape in a string');
      }
      run = this.pos;
    }
  }

  private array(path: string, depth: number): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.skipSpace();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value(`${path}[${out.length}]`, depth + 1));
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return out;
      }
      this.fail(c === undefined ? 'the JSON ends inside an array' : 'expected , or ] in an array');
    }
  }

  private object(path: string, depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.skipSpace();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] !== '"') this.fail(this.atEnd() ? 'the JSON ends inside an object' : 'expected a key in double quotes');
      const keyAt = this.pos;
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)} in ${path === '' ? 'the top-level object' : path}`, keyAt);
      seen.add(key);
      this.skipSpace();
      if (this.s[this.pos] !== ':') this.fail('expected : after a key');
      this.pos++;
      this.skipSpace();
      const v = this.value(path === '' ? key : `${path}.${key}`, depth + 1);
      // An own property even for "__proto__", exactly as JSON.parse makes it.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail(c === undefined ? 'the JSON ends inside an object' : 'expected , or } in an object');
    }
  }
}
