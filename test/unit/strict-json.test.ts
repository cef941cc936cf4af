import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUtf8Strict, parseStrictJson, parseStrictJsonBytes, parseStrictJsonSequence } from '../../src/model/strict-json.js';

const errorOf = (text: string, maxDepth?: number): string => {
  const r = parseStrictJson(text, maxDepth === undefined ? {} : { maxDepth });
  assert.equal(r.ok, false, `expected an error for ${JSON.stringify(text.slice(0, 60))}`);
  return r.ok ? '' : r.error;
};

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, the same way', () => {
    for (const text of [
      '{"a":1,"b":[true,false,null],"c":{"d":"e\\n\\u00e9\\ud83d\\ude00"}}',
      ' [ -0.5e+3 , 0 , 1E2, 123456789012345678901234567890 ] ',
      '"just a string"',
      '{}',
      '[]',
      '{"":"empty key","\\u0061":2}',
      '{"__proto__":{"polluted":true}}',
      '"\\/\\b\\f\\r\\t\\\\\\""',
    ]) {
      const r = parseStrictJson(text);
      assert.ok(r.ok, text);
      if (r.ok) assert.deepEqual(r.value, JSON.parse(text), text);
    }
    const proto = parseStrictJson('{"__proto__":{"x":1}}');
    assert.ok(proto.ok && Object.getPrototypeOf(proto.value) === Object.prototype, 'no prototype change');
    assert.ok(proto.ok && Object.hasOwn(proto.value as object, '__proto__'));
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('refuses a key twice, naming the key and where', () => {
    assert.match(errorOf('{"a":1,"a":2}'), /^duplicate key "a" in \$ at line 1 column 8$/);
    assert.match(errorOf('{"x":{"Arn":"p",\n "Arn":"q"}}'), /duplicate key "Arn" in \$\.x at line 2 column 2/);
    assert.match(errorOf('{"l":[{"k":1},{"k":1,"k":2}]}'), /duplicate key "k" in \$\.l\[1\]/);
    assert.match(errorOf('{"a b":{"\\u0061":1,"a":2}}'), /duplicate key "a" in \$\["a b"\]/, 'escapes are decoded before comparing');
  });

  it('bounds nesting without exhausting the stack', () => {
    assert.ok(parseStrictJson(`${'['.repeat(64)}${']'.repeat(64)}`).ok);
    assert.match(errorOf(`${'['.repeat(65)}${']'.repeat(65)}`), /nesting deeper than 64 levels/);
    assert.match(errorOf(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`), /nesting deeper than 64/);
    assert.match(errorOf('[[[1]]]', 2), /nesting deeper than 2 levels at \$\[0\]/);
  });

  it('refuses what is not JSON, with a position', () => {
    const cases: [string, RegExp][] = [
      ['', /unexpected end/],
      ['{"a":1,}', /expected a key/],
      ['[1,]', /unexpected character "\]"/],
      ['{"a" 1}', /expected ':'/],
      ['{"a":1 "b":2}', /expected ',' or '}'/],
      ['[1 2]', /expected ',' or '\]'/],
      ['"abc', /unterminated string/],
      ['"a\u0001b"', /control character inside a string/],
      ['"\\x41"', /bad escape/],
      ['"\\u12g4"', /bad \\u escape/],
      ['01', /unexpected text after the JSON value/],
      ['NaN', /unexpected character "N"/],
      ['tru', /unexpected character "t"/],
      ['{} {}', /unexpected text after/],
      ["{'a':1}", /expected a key/],
      // A BOM anywhere but at the very start is refused, named by its code point, never shown as itself.
      ['{}\ufeff', /^unexpected text after the JSON value \(U\+FEFF \(a byte order mark\)\) at line 1 column 3$/],
      ['[1,\ufeff2]', /^unexpected character U\+FEFF \(a byte order mark\) at line 1 column 4$/],
      ['\ufeff\ufeff{}', /^unexpected character U\+FEFF \(a byte order mark\) at line 1 column 1$/],
      ['[\u200b1]', /^unexpected character U\+200B at line 1 column 2$/],
      ['[1]\n\n  x', /^unexpected text after the JSON value \("x"\) at line 3 column 3$/],
    ];
    for (const [text, re] of cases) assert.match(errorOf(text), re, JSON.stringify(text));
  });
});

describe('decodeUtf8Strict and parseStrictJsonBytes', () => {
  it('decode UTF-8 and refuse anything else, naming the offset', () => {
    assert.deepEqual(decodeUtf8Strict(Buffer.from('caf\u00e9')), { ok: true, text: 'caf\u00e9' });
    for (const [bytes, at] of [
      [[0x61, 0xff], 1],
      [[0x61, 0x62, 0xc3], 2],
      [[0xc0, 0x80], 0],
      [[0xed, 0xa0, 0x80], 0],
      [[0xf4, 0x90, 0x80, 0x80], 0],
      [[0x61, 0xe2, 0x28, 0xa1], 1],
    ] as const) {
      const r = decodeUtf8Strict(Buffer.from(bytes));
      assert.equal(r.ok, false, JSON.stringify(bytes));
      if (!r.ok) assert.equal(r.error, `not valid UTF-8 (first bad byte at offset ${at})`);
    }
    assert.deepEqual(parseStrictJsonBytes(Buffer.from('{"a":"\u00e9"}')), { ok: true, value: { a: '\u00e9' } });
    const bad = parseStrictJsonBytes(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    assert.equal(bad.ok, false);
    // A BOM is kept by the decoder; the reader skips it at the very start only, and only when told to.
    assert.deepEqual(parseStrictJsonBytes(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), { bom: 'skip' }), { ok: true, value: {} });
    const kept = parseStrictJsonBytes(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]));
    assert.ok(!kept.ok && /^unexpected character U\+FEFF \(a byte order mark\) at line 1 column 1$/.test(kept.error), kept.ok ? '' : kept.error);
    const late = parseStrictJsonBytes(Buffer.from([0x20, 0xef, 0xbb, 0xbf, 0x7b, 0x7d]), { bom: 'skip' });
    assert.ok(!late.ok && /^unexpected character U\+FEFF \(a byte order mark\) at line 1 column 2$/.test(late.error), late.ok ? '' : late.error);
  });
});

describe('a byte order mark', () => {
  it('is refused by default: a file the device software wrote never starts with one', () => {
    for (const r of [parseStrictJson('\ufeff{"a":1}'), parseStrictJsonSequence('\ufeff{"a":1}')]) {
      assert.ok(!r.ok && /^unexpected character U\+FEFF \(a byte order mark\) at line 1 column 1$/.test(r.error), r.ok ? '' : r.error);
    }
  });

  it('is skipped at the very start of a document or a sequence a person hands over, and positions count from after it', () => {
    const skip = { bom: 'skip' } as const;
    assert.deepEqual(parseStrictJson('\ufeff{"a":1}', skip), { ok: true, value: { a: 1 } });
    const seq = parseStrictJsonSequence('\ufeff{"a":1}\n{"a":2}', skip);
    assert.deepEqual(seq, { ok: true, documents: [{ value: { a: 1 }, line: 1 }, { value: { a: 2 }, line: 2 }] });
    const bad = parseStrictJson('\ufeff{"a" 1}', skip);
    assert.ok(!bad.ok && /expected ':' after key "a" in \$ at line 1 column 6$/.test(bad.error), bad.ok ? '' : bad.error);
  });

  it('starting a later document of a sequence is refused (two files with BOMs put one after the other)', () => {
    const r = parseStrictJsonSequence('{"a":1}\n\ufeff{"a":2}', { bom: 'skip' });
    assert.ok(!r.ok && /^unexpected character U\+FEFF \(a byte order mark\) at line 2 column 1$/.test(r.error), r.ok ? '' : r.error);
  });

  it('inside a string is content, kept as it is', () => {
    assert.deepEqual(parseStrictJson('["\ufeffx"]'), { ok: true, value: ['\ufeffx'] });
  });
});
