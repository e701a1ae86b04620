import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * Data flows one way: api → queue → workers → core. This scans the import statements of the
 * source tree (no madge: it needs the TypeScript compiler API, which TS 7 has not).
 */
const root = resolve(import.meta.dirname, '..');
const SCANNED = ['src', 'workers', 'scripts'];

interface Edge {
  to: string; // repo-relative path, or the bare specifier for packages
  typeOnly: boolean;
  local: boolean;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'public') return [];
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT_RE = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const edges: Edge[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[3] ?? m[4];
    const typeOnly = Boolean(m[2]);
    if (spec.startsWith('.')) {
      const abs = resolve(dirname(file), spec);
      const candidates = [abs, abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts'), `${abs}.ts`, join(abs, 'index.ts')];
      const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? abs;
      edges.push({ to: relative(root, hit), typeOnly, local: true });
    } else edges.push({ to: spec, typeOnly, local: false });
  }
  return edges;
}

const files = SCANNED.flatMap((d) => sourceFiles(join(root, d))).map((f) => relative(root, f));
const graph = new Map(files.map((f) => [f, importsOf(join(root, f))]));
const inside = (f: string, dir: string) => f === dir || f.startsWith(`${dir}/`);
const isApiLayer = (f: string) => inside(f, 'src/api') || f === 'src/app.ts' || f === 'src/server.ts';

describe('architecture', () => {
  it('scans a real tree', () => {
    expect(files).toContain('src/core/index.ts');
    expect(files).toContain('workers/processor.ts');
    expect(graph.get('src/app.ts')!.some((e) => e.to === 'src/api/services.ts')).toBe(true);
  });

  it('src/core imports only src/core, and what src/core/index.ts loads imports no package', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => inside(f, 'src/core')))
      for (const e of graph.get(f)!) if (e.local && !inside(e.to, 'src/core')) bad.push(`${f} → ${e.to}`);
    const seen = new Set<string>();
    const walk = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const e of graph.get(f) ?? []) {
        if (!e.local && !e.typeOnly) bad.push(`${f} → package '${e.to}' (reachable from src/core/index.ts)`);
        if (e.local) walk(e.to);
      }
    };
    walk('src/core/index.ts');
    expect(seen.size).toBeGreaterThan(5);
    expect(bad).toEqual([]);
  });

  it('no file of src/core imports a package or a Node module, at run time or build time (build tools live in scripts/)', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => inside(f, 'src/core')))
      for (const e of graph.get(f)!) if (!e.local && !e.typeOnly) bad.push(`${f} → '${e.to}'`);
    expect(files.filter((f) => inside(f, 'src/core')).length).toBeGreaterThan(20);
    expect(bad).toEqual([]);
  });

  it('nothing outside the API layer imports src/api (scripts may start the app); nothing in src imports workers/', () => {
    const bad: string[] = [];
    for (const [f, edges] of graph)
      for (const e of edges) {
        if (e.local && isApiLayer(e.to) && !isApiLayer(f) && !inside(f, 'scripts')) bad.push(`${f} → ${e.to}`);
        if (e.local && inside(e.to, 'workers') && !inside(f, 'workers')) bad.push(`${f} → ${e.to}`);
      }
    expect(bad).toEqual([]);
  });

  it('configuration is read from the environment only by src/config.ts and the process entry points', () => {
    // Everything else gets validated config passed in (issue 15): one place decides what `X=` (empty) means.
    const ENTRY_POINTS = ['src/config.ts', 'src/server.ts', 'workers/main.ts', 'src/cli/main.ts'];
    const readers = files
      .filter((f) => !inside(f, 'scripts') && !ENTRY_POINTS.includes(f))
      .filter((f) => /\bprocess\.env\b/.test(readFileSync(join(root, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')));
    expect(files.filter((f) => inside(f, 'src') || inside(f, 'workers')).length).toBeGreaterThan(50);
    expect(readers).toEqual([]);
  });

  it('queue, storage and schemas import neither the API nor the workers', () => {
    const bad: string[] = [];
    for (const [f, edges] of graph)
      if (['src/queue', 'src/storage', 'src/schemas'].some((d) => inside(f, d)))
        for (const e of edges) if (e.local && (isApiLayer(e.to) || inside(e.to, 'workers'))) bad.push(`${f} → ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('has no circular imports (runtime imports; type-only imports vanish at run time)', () => {
    const WHITE = 0, GREY = 1, BLACK = 2;
    const color = new Map<string, number>();
    const cycles: string[] = [];
    const stack: string[] = [];
    const visit = (f: string) => {
      color.set(f, GREY);
      stack.push(f);
      for (const e of graph.get(f) ?? []) {
        if (!e.local || e.typeOnly || !graph.has(e.to)) continue;
        const c = color.get(e.to) ?? WHITE;
        if (c === GREY) cycles.push([...stack.slice(stack.indexOf(e.to)), e.to].join(' → '));
        else if (c === WHITE) visit(e.to);
      }
      stack.pop();
      color.set(f, BLACK);
    };
    for (const f of graph.keys()) if ((color.get(f) ?? WHITE) === WHITE) visit(f);
    expect(cycles).toEqual([]);
  });
});
