/**
 * The job page in headless Chromium (npm start): download the model as ONNX and as TF.js (two
 * files), list the kept checkpoints and "Continue from here" into a new job.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonsSpec } from '../helpers/data.js';
import { maxAbsDiff, runOnnx, runTfjs } from '../helpers/model-runtimes.js';
import { moonsCsv, type Stack, startStack } from '../ops/stack.js';
import { waitForState } from '../helpers/wait.js';

declare const document: any;
declare const location: any;
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)(`job page: export and checkpoints (needs ${CHROMIUM})`, () => {
  let stack: Stack;
  let dir: string;
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;
  const problems: string[] = [];
  let jobId: string;
  const call = async (path: string, body?: unknown): Promise<any> =>
    (await fetch(`${stack.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': body instanceof Object ? 'application/json' : 'text/csv' }, body: body instanceof Object ? JSON.stringify(body) : String(body) })).json();
  const finished = (id: string) => waitForState(`job ${id} to finish`, () => call(`/v1/jobs/${id}`), (j) => ['completed', 'failed', 'cancelled'].includes(j.status), { timeoutMs: 60_000, intervalMs: 100 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trainer-ui-export-'));
    stack = await startStack({ env: { CHECKPOINTS_KEPT: '2' } });
    const ds = await call('/v1/datasets?target=label', moonsCsv(200, 5).csv);
    jobId = (await call('/v1/jobs', moonsSpec(ds.id, 4))).id;
    await finished(jobId);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })).newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('downloads ONNX and TF.js files that predict like /predict', async () => {
    await page.goto(`${stack.url}/ui/#/jobs/${jobId}`);
    await page.waitForFunction(() => document.querySelector('#download-onnx') && !document.querySelector('#download-onnx').disabled);
    const probe = [[0.2, 0.9], [1.1, -0.4], [0.4, 0.1]];
    const predicted = await call(`/v1/jobs/${jobId}/predict`, { features: probe });

    const [onnx] = await Promise.all([page.waitForEvent('download'), page.click('#download-onnx')]);
    expect(onnx.suggestedFilename()).toBe(`model-${jobId}.onnx`);
    await onnx.saveAs(join(dir, 'm.onnx'));
    expect(maxAbsDiff((await runOnnx(readFileSync(join(dir, 'm.onnx')), probe)).output, predicted.probabilities)).toBeLessThan(1e-5);

    const downloads: import('playwright-core').Download[] = [];
    const two = new Promise<void>((resolve) => page.on('download', (d) => { downloads.push(d); if (downloads.length === 2) resolve(); }));
    await page.click('#download-tfjs');
    await two;
    expect(downloads.map((d) => d.suggestedFilename()).sort()).toEqual(['model.json', 'weights.bin']);
    for (const d of downloads) await d.saveAs(join(dir, d.suggestedFilename()));
    const files = { 'model.json': JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')), 'weights.bin': readFileSync(join(dir, 'weights.bin')).toString('base64') };
    expect(maxAbsDiff(await runTfjs({ files }, probe), predicted.probabilities)).toBeLessThan(1e-5);
  });

  it('lists the kept checkpoints and continues from one into a new job', async () => {
    await page.waitForSelector('#job-checkpoints table tbody tr');
    const epochs = await page.$$eval('#job-checkpoints tbody tr', (rows: any[]) => rows.map((r) => Number(r.dataset.epoch)));
    expect(epochs.slice(-2)).toEqual([3, 4]);
    const row = '#job-checkpoints tbody tr[data-epoch="4"]';
    await page.fill(`${row} input[name=epochs]`, '6');
    await page.click(`${row} button.continue`);
    await page.waitForFunction((id: string) => location.hash.startsWith('#/jobs/') && !location.hash.endsWith(id), jobId);
    const newId = decodeURIComponent((await page.evaluate(() => location.hash)).slice('#/jobs/'.length));
    const job = await finished(newId);
    expect(job).toMatchObject({ status: 'completed', fromCheckpoint: { jobId, epoch: 4, optimizerReset: false }, result: { epochsRun: 6 } });
    await page.waitForFunction(() => [...document.querySelectorAll('.meta')].some((m: any) => /started from/.test(m.textContent)));
    expect(await page.evaluate(() => [...document.querySelectorAll('.meta')].map((m: any) => m.textContent).join(' '))).toContain(`${jobId} after epoch 4`);
    expect(problems).toEqual([]);
  });
});
