/** Output helpers: stdout carries results (tables or JSON), stderr carries progress and errors. */

/** Where a command writes. Tests and the bin both pass the real process streams. */
export interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** The parsed global options every command receives. */
export interface GlobalOptions {
  url: string;
  apiKey?: string;
  json: boolean;
}

/** Print `value` as pretty JSON on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.out.write(JSON.stringify(value, null, 2) + '\n');
}

/** A plain left-aligned text table; `columns` maps header → cell getter. */
export function table<T>(rows: T[], columns: Record<string, (r: T) => unknown>): string {
  const heads = Object.keys(columns);
  const cells = rows.map((r) => heads.map((h) => {
    const v = columns[h](r);
    return v === undefined || v === null ? '-' : String(v);
  }));
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(heads.map((h) => h.toUpperCase())), ...cells.map(fmt)].join('\n') + '\n';
}

/** Items of a list response, whatever envelope the server uses (bare array, items, data...). */
export function listItems<T>(body: unknown): { items: T[]; next?: string } {
  if (Array.isArray(body)) return { items: body as T[] };
  const o = (body ?? {}) as Record<string, unknown>;
  const items = (o.items ?? o.data ?? o.jobs ?? o.datasets ?? []) as T[];
  const next = (o.next ?? o.nextCursor ?? o.after ?? undefined) as string | undefined;
  return { items, next: next ?? undefined };
}
