/** `datasets upload|list|get|delete`. */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { ApiClient } from '../http-client.js';
import { type GlobalOptions, type Io, listItems, printJson, table } from '../output.js';
import { UsageError } from '../spec-flags.js';
import type { DatasetView } from '../types.js';

/** Upload a CSV file as `text/csv`; `target` defaults to the last column on the server. */
export async function uploadDataset(api: ApiClient, io: Io, g: GlobalOptions, file: string, target?: string, name?: string): Promise<number> {
  const csv = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code ?? e.message}`);
  });
  const q = new URLSearchParams({ name: name ?? basename(file, extname(file)) });
  if (target) q.set('target', target);
  const ds = await api.post<DatasetView>(`/v1/datasets?${q}`, new Uint8Array(csv), { headers: { 'content-type': 'text/csv' } });
  if (g.json) printJson(io, ds);
  else {
    const cls = ds.classes !== undefined ? `, ${ds.classes} classes` : '';
    io.out.write(`${ds.id}\n`);
    io.err.write(`uploaded "${ds.name ?? ''}": ${ds.rows} rows, ${ds.features} features, ${ds.targets} target(s) (${ds.targetKind}${cls})\n`);
  }
  return 0;
}

export async function listDatasets(api: ApiClient, io: Io, g: GlobalOptions): Promise<number> {
  const { items } = listItems<DatasetView>(await api.get('/v1/datasets'));
  if (g.json) printJson(io, items);
  else io.out.write(table(items, {
    id: (d) => d.id, name: (d) => d.name, rows: (d) => d.rows, features: (d) => d.features,
    targets: (d) => d.targets, kind: (d) => d.targetKind, classes: (d) => d.classes, created: (d) => d.createdAt,
  }));
  return 0;
}

export async function getDataset(api: ApiClient, io: Io, _g: GlobalOptions, id: string): Promise<number> {
  printJson(io, await api.get(`/v1/datasets/${encodeURIComponent(id)}`));
  return 0;
}

export async function deleteDataset(api: ApiClient, io: Io, g: GlobalOptions, id: string): Promise<number> {
  await api.request('DELETE', `/v1/datasets/${encodeURIComponent(id)}`);
  if (g.json) printJson(io, { id, deleted: true });
  else io.err.write(`deleted ${id}\n`);
  return 0;
}
