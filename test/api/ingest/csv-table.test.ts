import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../../../src/api/problem.js';
import { columnGroups, CsvTableParser, parseDecimal } from '../../../src/api/ingest/csv-table.js';
import { moveTarget, readTable, splitTarget } from '../../../src/api/ingest/read-table.js';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const num = (s: string) => parseDecimal(Buffer.from(s, 'latin1'), 0, s.length);

/** Parses `text` fed in chunks of the given sizes (cycled). */
function parse(text: string | Buffer, sizes: number[] = [1 << 20], target?: string, maxRows = 1000) {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const p = new CsvTableParser({ maxRows, maxColumns: 50 });
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]);
    p.write(bytes.subarray(i, i + n));
    i += n;
  }
  const table = p.end();
  const split = splitTarget(table, target);
  return { columns: table.columns, rows: table.rows, features: Array.from(split.features), targets: Array.from(split.targets), dtype: split.features instanceof Float32Array ? 'float32' : 'float64' };
}

function problemOf(fn: () => unknown): HttpProblem {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpProblem) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parseDecimal', () => {
  it('equals Number() bit for bit on decimal strings (fast path and fallback)', () => {
    const digits = (max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: max });
    const decimal = fc
      .tuple(fc.constantFrom('', '+', '-'), digits(20), fc.boolean(), digits(20), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(4).filter((d) => d.length > 0))))
      .map(([sign, int, dot, frac, exp]) => `${sign}${int}${dot ? '.' : ''}${dot ? frac : ''}${exp ? exp.join('') : ''}`);
    fc.assert(
      fc.property(decimal, (s) => {
        const v = num(s);
        if (DECIMAL.test(s)) expect(Object.is(v, Number(s))).toBe(true);
        else expect(v).toBeNaN();
      }),
      { numRuns: 20_000 },
    );
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => Object.is(num(String(d)), Number(String(d)))), { numRuns: 20_000 });
  });

  it.each(['0x10', 'Infinity', 'NaN', '1e', '.', '-', '1.2.3', '1e+', '', ' ', '1 2', '"1', '1"'])('refuses %j', (s) => expect(num(s)).toBeNaN());
  it.each([[' 1.5 ', 1.5], ['"2"', 2], ['1.', 1], ['.5', 0.5], ['+7', 7], ['-0', -0], ['1e400', Infinity], ['123456789012345678', 123456789012345678], ['1e-300', 1e-300]])('reads %j as %d', (s, v) =>
    expect(Object.is(num(s as string), v)).toBe(true),
  );
});

describe('CsvTableParser', () => {
  const CSV = '\uFEFF"a",b,"the label",c\r\n1.5,"2",0,-1\r\n\r\n3,4.25,2,0.5\r\n';

  it('gives the same table whatever the chunk boundaries (BOM, CRLF, quotes split anywhere)', () => {
    const whole = parse(CSV, [1 << 20], 'the label');
    expect(whole).toEqual({ columns: ['a', 'b', 'the label', 'c'], rows: 2, features: [1.5, 2, -1, 3, 4.25, 0.5], targets: [0, 2], dtype: 'float32' });
    for (const sizes of [[1], [2], [3], [5, 1, 7], [13]]) expect(parse(CSV, sizes, 'the label')).toEqual(whole);
  });

  it('turns float64 once a value does not round-trip through float32, keeping every earlier value', () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => `${i},${i % 3}`);
    rows.push('0.1,1');
    const t = parse('x,y\n' + rows.join('\n'), [4096 + 7], undefined, 1e6);
    expect(t.dtype).toBe('float64');
    expect(t.features.length).toBe(100_001);
    expect(t.features[99_999]).toBe(99_999);
    expect(t.features[100_000]).toBe(0.1);
    expect(t.targets[5]).toBe(2);
  });

  it.each([
    ['a bad cell, chunked', 'x,y\n1,2\n3,abc\n', 'csv:3:2', /line 3, column 2 \('y'\): 'abc' is not a finite decimal number/],
    ['a quoted bad cell', 'x,y\n1,2\n3,"a""b"\n', 'csv:3:2', /'a"b' is not/],
    ['blank lines counted, CR line ends', 'x,y\r\n1,2\r\n\r\n\r\n3,?\r\n', 'csv:5:2', /line 5/],
    ['a ragged row wins over its bad cell', 'x,y\n1,2\nz\n', 'csv:3', /line 3 has 1 fields but the header has 2/],
    ['too many fields', 'x,y\n1,2\n1,2,3\n', 'csv:3', /more fields than the header's 2/],
    ['an unclosed quote', 'x,y\n"1,2\n3,4\n', 'csv:2', /never closed/],
    ['a cell over 1 KiB', `x,y\n1,${'9'.repeat(2000)}\n`, 'csv:2:2', /more than 1024 bytes/],
    ['a quoted run over 1 KiB', `x,y\n1,"${'9'.repeat(2000)}\n`, 'csv:2:2', /closing " missing/],
    ['invalid UTF-8 in a cell', Buffer.concat([Buffer.from('a,b\n1,2\n'), Buffer.from([0xc3, 0x28]), Buffer.from(',3\n')]), 'body', /offset 8/],
    ['invalid UTF-8 in the header', Buffer.concat([Buffer.from('\uFEFFa,b'), Buffer.from([0xff]), Buffer.from('\n1,2\n')]), 'body', /offset 6/],
    ['a header only, no newline', 'a,b', 'body', /no data rows/],
    ['one row without a final newline', 'a,b\n1,2', 'body', /one data row/],
    ['an empty last cell', 'a,b\n1,2\n3,', 'csv:3:2', /is empty/],
  ])('%s → 400 at %s', (_n, body, path, detail) => {
    for (const sizes of [[1 << 20], [1], [3]]) {
      const p = problemOf(() => parse(body as string, sizes));
      expect(p.status).toBe(400);
      expect(p.errors?.[0].path).toBe(path);
      expect(p.message).toMatch(detail);
    }
  });

  it('counts rows and columns against the limits while reading', () => {
    expect(problemOf(() => parse('a,b\n' + '1,2\n'.repeat(1001))).code).toBe('too_many_rows');
    const wide = Array.from({ length: 51 }, (_, i) => `c${i}`).join(',');
    expect(problemOf(() => parse(wide + '\n', [7])).code).toBe('too_many_columns');
  });
});

describe('readTable', () => {
  const chunks = (b: Buffer, n: number) => Readable.from(Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n)));
  const opts = { format: 'csv' as const, maxBytes: 1 << 20, limits: {} };

  it('gunzips a gzip body (recognized by its bytes), limits the bytes before and after', async () => {
    const csv = Buffer.from('x,y\n' + Array.from({ length: 5000 }, (_, i) => `${i},${i % 2}`).join('\n'));
    const t = await readTable(chunks(gzipSync(csv), 1000), opts);
    expect(t.rows).toBe(5000);
    const split = splitTarget(t);
    expect(split.features[4999]).toBe(4999);
    const big = Buffer.from('x,y\n' + '1,2\n'.repeat(300_000));
    await expect(readTable(chunks(gzipSync(big), 1000), opts)).rejects.toMatchObject({ status: 413, code: 'fst_err_ctp_body_too_large', message: /decompressed/ });
    await expect(readTable(chunks(big, 65536), opts)).rejects.toMatchObject({ status: 413, code: 'fst_err_ctp_body_too_large' });
    await expect(readTable(chunks(Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 4), opts)).rejects.toMatchObject({ status: 400, code: 'invalid_gzip' });
  });

  it('a stream that fails half-way (a cut connection) → 400 upload_aborted', async () => {
    async function* cut() {
      yield Buffer.from('x,y\n1,2\n3,');
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    }
    await expect(readTable(cut(), opts)).rejects.toMatchObject({ status: 400, code: 'upload_aborted' });
  });

  it('JSON Lines: named numbers per line, line and key in errors', async () => {
    const body = Buffer.from('{"x":1,"y":2.5,"label":0}\n\n{"label":1,"y":-1,"x":3}\n');
    const t = await readTable(chunks(body, 5), { ...opts, format: 'jsonl' });
    expect(t.columns).toEqual(['x', 'y', 'label']);
    const split = splitTarget(t);
    expect(Array.from(split.features)).toEqual([1, 2.5, 3, -1]);
    expect(Array.from(split.targets)).toEqual([0, 1]);
    const bad = Buffer.from('{"x":1,"label":0}\n{"x":"a","label":1}\n');
    await expect(readTable(chunks(bad, 3), { ...opts, format: 'jsonl' })).rejects.toMatchObject({ status: 400, code: 'invalid_jsonl', errors: [{ path: 'jsonl:2:1' }] });
    const extra = Buffer.from('{"x":1,"label":0}\n{"x":2,"label":1,"z":3}\n');
    await expect(readTable(chunks(extra, 64), { ...opts, format: 'jsonl' })).rejects.toMatchObject({ errors: [{ path: 'jsonl:2' }], message: /key 'z'/ });
  });
});

describe('ValueMatrix and moveTarget', () => {
  it('finish() shrinks to the values written; float32 turns float64 with its peer', () => {
    const { features, targets } = columnGroups();
    for (let i = 0; i < 300_000; i++) features.push(i);
    targets.push(0.5);
    expect(features.dtype).toBe('float32');
    targets.push(0.1);
    expect([features.dtype, targets.dtype]).toEqual(['float64', 'float64']);
    const f = features.finish();
    expect(f).toBeInstanceOf(Float64Array);
    expect(f.length).toBe(300_000);
    expect(f.buffer.byteLength).toBe(300_000 * 8);
    expect([f[0], f[299_999]]).toEqual([0, 299_999]);
    expect(Array.from(targets.finish())).toEqual([0.5, 0.1]);
  });

  it('moveTarget gives the split the target column would have given, either direction', () => {
    const rows = 3;
    const width = 5;
    const cell = (r: number, c: number) => r * 10 + c;
    const split = (t: number) => {
      const F: number[] = [];
      const T: number[] = [];
      for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) (c === t ? T : F).push(cell(r, c));
      return { F: Float64Array.from(F), T: Float64Array.from(T) };
    };
    for (let from = 0; from < width; from++)
      for (let to = 0; to < width; to++) {
        if (from === to) continue;
        const { F, T } = split(from);
        moveTarget(F, T, rows, width, from, to);
        expect({ from, to, F: Array.from(F), T: Array.from(T) }).toEqual({ from, to, F: Array.from(split(to).F), T: Array.from(split(to).T) });
      }
  });
});
