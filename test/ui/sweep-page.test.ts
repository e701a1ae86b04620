/**
 * The sweep pages in headless Chromium (npm start): the list links to a sweep; its page overlays
 * one loss curve per trial (pruned ones faded), sorts the trials table by a column, and draws the
 * parameter-vs-metric scatter.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moonsCsv, type Stack, startStack } from '../ops/stack.js';
import { waitForState } from '../helpers/wait.js';

declare const document: any;
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)(`sweep page (needs ${CHROMIUM})`, () => {
  let stack: Stack;
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;
  const problems: string[] = [];
  let sweep: any;
  const call = async (path: string, body?: unknown): Promise<any> =>
    (await fetch(`${stack.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })).json();

  beforeAll(async () => {
    stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '20' } });
    const ds = await call('/v1/datasets?target=label', moonsCsv(300, 5).csv);
    const created = await call('/v1/sweeps', {
      datasetId: ds.id,
      base: {
        model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
        loss: 'softmax_cross_entropy',
        optimizer: { type: 'adam', learningRate: 0.01 },
        epochs: 8,
        batchSize: 16,
        validationSplit: 0.25,
        seed: 2,
      },
      method: 'grid',
      parameters: { 'optimizer.learningRate': { values: [0.03, 0.0003, 0.001, 0.0001] } },
      metric: { name: 'valLoss', goal: 'minimize' },
      maxConcurrent: 1,
      earlyStop: { type: 'asha', minEpochs: 2, eta: 3 },
    });
    sweep = await waitForState(`sweep ${created.id} to end`, () => call(`/v1/sweeps/${created.id}`), (sw) => sw.status !== 'running', { timeoutMs: 60_000, intervalMs: 100 });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('lists the sweep, overlays the trials (pruned faded), sorts the table, draws the scatter', async () => {
    expect(sweep.status).toBe('completed');
    expect(sweep.counts.pruned).toBeGreaterThan(0);
    await page.goto(`${stack.url}/ui/#/sweeps`);
    await page.waitForSelector(`#sweeps-table tr[data-id="${sweep.id}"] a`);
    await page.click(`#sweeps-table tr[data-id="${sweep.id}"] a`);
    await page.waitForFunction(() => document.querySelector('#sweep-chart')?.dataset.series === '4');
    expect(await page.$eval('#sweep-chart', (e: any) => Number(e.dataset.faded))).toBe(sweep.counts.pruned);
    expect(await page.$eval('#sweep-summary', (e: any) => e.textContent)).toMatch(new RegExp(`best: #${sweep.best.trial}`));
    // Sort by the metric: ascending puts the best first; a second click reverses.
    await page.click('#trials-table th[data-key="metric"]');
    const order = () => page.$$eval('#trials-table tbody tr', (rows: any[]) => rows.map((r) => Number(r.dataset.trial)));
    const byMetric = [...sweep.trials].sort((a: any, b: any) => a.metric - b.metric).map((t: any) => t.index);
    expect(await order()).toEqual(byMetric);
    await page.click('#trials-table th[data-key="metric"]');
    expect(await order()).toEqual([...byMetric].reverse());
    expect(await page.$$eval('#trials-table tbody tr.faded', (r: any[]) => r.length)).toBe(sweep.counts.pruned);
    // The scatter: one point per trial, the pruned ones faded.
    expect(await page.$eval('#sweep-scatter svg', (s: any) => s.querySelectorAll('circle').length)).toBe(4);
    expect(await page.$$eval('#sweep-scatter circle[fill-opacity="0.25"]', (c: any[]) => c.length)).toBe(sweep.counts.pruned);
    expect(problems).toEqual([]);
  }, 60_000);
});
