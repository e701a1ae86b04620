/** `datasets upload|list|get|delete`. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ApiClient } from '../http-client.js';
import { ByteProgressBar, formatBytes } from '../progress-bar.js';
import { type GlobalOptions, type Io, listItems, printJson, table } from '../output.js';
import { UsageError } from '../spec-flags.js';
import type { DatasetView } from '../types.js';

/** The media type of a data file by its name: JSON Lines for .jsonl/.ndjson(.gz), else CSV (the server gunzips gzip bytes). */
export function uploadType(file: string): string {
  return /\.(jsonl|ndjson)(\.gz)?$/i.test(file) ? 'application/x-ndjson' : 'text/csv';
}

/**
 * Upload a CSV (or JSON Lines, or either gzipped) file, streamed from disk with a byte progress
 * bar and the rate on stderr; `target` defaults to the last column on the server.
 */
export async function uploadDataset(api: ApiClient, io: Io, g: GlobalOptions, file: string, target?: string, name?: string): Promise<number> {
  const size = await stat(file).then(
    (st) => st.size,
    (e: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${e.code ?? e.message}`);
    },
  );
  const q = new URLSearchParams({ name: name ?? basename(file).replace(/(\.gz)?$/i, '').replace(/\.[^.]*$/, '') });
  if (target) q.set('target', target);
  const bar = new ByteProgressBar(size, { stream: io.err as NodeJS.WriteStream });
  let sent = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) return controller.close();
      sent += value.length;
      bar.update(sent);
      controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
    cancel() {
      source.destroy();
    },
  });
  const iterator = (source[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  const t0 = Date.now();
  let ds: DatasetView;
  try {
    ds = await api.post<DatasetView>(`/v1/datasets?${q}`, body, { headers: { 'content-type': uploadType(file), 'content-length': String(size) } });
  } finally {
    bar.done();
    source.destroy();
  }
  const seconds = Math.max(1e-3, (Date.now() - t0) / 1000);
  if (g.json) printJson(io, ds);
  else {
    const cls = ds.classes !== undefined ? `, ${ds.classes} classes` : '';
    io.out.write(`${ds.id}\n`);
    io.err.write(
      `uploaded "${ds.name ?? ''}": ${ds.rows} rows, ${ds.features} features, ${ds.targets} target(s) (${ds.targetKind}${cls}); ` +
        `${formatBytes(size)} in ${seconds.toFixed(1)} s (${formatBytes(size / seconds)}/s)\n`,
    );
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
