/**
 * The dashboard in real headless Chromium against the real service (npm start: API + worker),
 * under a strict Content-Security-Policy: submit a job through the form (seeing the API's
 * validation errors next to the fields first), watch the loss curve gain points while it
 * trains, see the terminal state, download the model, compare two jobs, save screenshots.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_STATUSES } from '../../src/schemas/job.js';
import { moonsCsv, root, type Stack, startStack } from '../ops/stack.js';
import { parseSse, sseBlocks } from '../helpers/sse.js';
import { waitForState } from '../helpers/wait.js';

// page.evaluate callbacks run in the browser; the project compiles without the DOM lib
declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`dashboard tests skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`);

/** What helmet's strict defaults allow for scripts and styles: our own origin only, nothing inline. */
const STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";
const ARTIFACTS = join(root, 'test-artifacts');

describe.skipIf(!hasChromium)(`dashboard in headless Chromium (needs ${CHROMIUM})`, () => {
  let stack: Stack;
  let dir: string;
  // playwright-core types are loaded lazily so the file loads even where chromium is missing
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;
  const problems: string[] = [];
  let jobId: string;
  let sgdId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trainer-ui-'));
    writeFileSync(join(dir, 'moons.csv'), moonsCsv(400, 9).csv);
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack({ env: { PROGRESS_INTERVAL_MS: '50' } });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    // enforce a strict CSP on the dashboard whatever the server sends, so inline code would fail here
    await page.route('**/ui/**', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), 'content-security-policy': STRICT_CSP } });
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // a 400 from the API is expected in the validation step; anything else is a problem
      if (m.type() === 'error' && !/status of 400/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the dashboard at / with no inline code: the jobs list renders under the strict CSP', async () => {
    await page.goto(`${stack.url}/`);
    expect(page.url()).toBe(`${stack.url}/ui/`);
    await page.waitForSelector('#jobs-table tbody tr');
    expect(await page.textContent('#jobs-table tbody')).toContain('No jobs yet');
    expect(problems).toEqual([]);
  });

  it('shows the API validation errors next to the matching fields', async () => {
    await page.click('a[data-nav=new]');
    await page.setInputFiles('input[name=file]', join(dir, 'moons.csv'));
    // the page reads the header row from the file and preselects the last column
    await page.waitForFunction(() => document.querySelector('select[name=target]').value === 'label');
    expect(await page.$$eval('select[name=target] option', (os) => os.map((o) => o.textContent))).toEqual(['x', 'y', 'label']);
    await page.fill('input[name=learningRate]', '-1');
    await page.fill('input[name=batchSize]', '0');
    await page.click('#submit-job');
    await page.waitForSelector('.field.invalid');
    const invalid = await page.$$eval('.field.invalid', (els) => els.map((e) => [(e as any).dataset.path, e.querySelector('.field-error')!.textContent]));
    const paths = Object.fromEntries(invalid);
    expect(Object.keys(paths).sort()).toEqual(['batchSize', 'optimizer.learningRate']);
    expect(paths['optimizer.learningRate']).toMatch(/>\s*0/);
    expect(await page.isVisible('#form-errors')).toBe(true);
    // the dataset was uploaded on the way: the form now points at it
    expect(await page.textContent('#dataset-info')).toContain('400 rows, 2 features, 2 classes');
    // the upload went through XMLHttpRequest: its byte progress and rate stay on the page
    expect(await page.textContent('#upload-rate')).toMatch(/^uploaded \d+\.\d KiB in \d+\.\d s \(\d+\.\d [KMG]iB\/s\): 400 rows × 2 features$/);
    expect(await page.$eval('#upload-progress', (p: any) => p.value)).toBe(1);
  });

  it('submits through the form, the loss curve gains points while the job runs, and the page reaches completed', async () => {
    await page.fill('input[name=layers]', '96:relu,96:relu,2:softmax');
    await page.fill('input[name=learningRate]', '0.003');
    await page.fill('input[name=batchSize]', '4');
    await page.fill('input[name=epochs]', '500');
    await page.selectOption('select[name=schedule]', 'inverse_time');
    await page.fill('input[name=decayRate]', '0.01');
    await page.selectOption('select[name=clip]', 'global_norm');
    await page.fill('input[name=clipThreshold]', '1');
    await page.click('#submit-job');
    await page.waitForURL(/#\/jobs\//);
    jobId = decodeURIComponent(page.url().split('#/jobs/')[1]);
    // sample (status, points) until the job ends; growth must be seen while it is running
    const samples: { status: string | null; points: number }[] = [];
    const sample = async () => {
      const s = await page.evaluate(() => ({
        status: document.querySelector('#job-status [data-status]')?.getAttribute('data-status') ?? null,
        points: Number(document.querySelector('.chart-loss')?.getAttribute('data-points') ?? 0),
      }));
      samples.push(s);
      return s;
    };
    await waitForState('the job page to show the job ended', sample, (s) => s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled', { timeoutMs: 120_000 });
    const running = samples.filter((s) => s.status === 'running' && s.points > 0);
    expect(running.length, JSON.stringify(samples)).toBeGreaterThan(1);
    expect(running.at(-1)!.points).toBeGreaterThan(running[0].points);
    expect(samples.at(-1)!.status).toBe('completed');
    // on completion the charts hold the full per-epoch history: one point per epoch
    await page.waitForFunction(() => document.querySelector('.chart-loss')?.getAttribute('data-points') === '500');
    expect(await page.getAttribute('.chart-grad', 'data-points')).toBe('500');
    await page.waitForSelector('#job-result:not([hidden])');
    expect(await page.textContent('#job-result')).toContain('epochs run500');
    expect(await page.textContent('#stream-state')).toBe('stream: ended');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('downloads the trained model from the job page', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-model')]);
    const file = join(dir, 'model.json');
    await download.saveAs(file);
    const model = JSON.parse(readFileSync(file, 'utf8'));
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    expect(model.format).toBe('tsnn-model');
    expect(model.weightsHash).toBe(job.result.weightsHash);
  });

  it('evaluates the job on a dataset: metrics, per-class table and a confusion-matrix heat map equal to the API answer', async () => {
    await page.waitForSelector('#job-evaluate:not([hidden]) #evaluate-dataset option', { state: 'attached' });
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    expect(await page.$eval('#evaluate-dataset', (s: any) => s.value)).toBe(job.datasetId);
    await page.click('#evaluate-job');
    await page.waitForSelector('#confusion-matrix');
    const api: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}/evaluate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: job.datasetId }) })).json();
    const cells = await page.$$eval('#confusion-matrix td', (tds: any[]) => tds.map((td) => ({ n: Number(td.textContent), share: Number(td.dataset.share), bg: td.style.backgroundColor })));
    expect(cells.map((c) => c.n)).toEqual(api.confusionMatrix.flat());
    // the heat map: each cell shaded by its share of the true class; the right answers (diagonal) are the darkest
    expect(cells[0].share).toBeCloseTo(api.confusionMatrix[0][0] / 200, 3);
    expect(cells[0].bg).toMatch(/^rgba?\(37, 99, 235(, 0\.\d+)?\)$/); // alpha 1 reads back as rgb()
    expect(cells[0].share).toBeGreaterThan(cells[1].share);
    const metrics = await page.textContent('#evaluate-metrics');
    expect(metrics).toContain(`rows${api.rows}`);
    expect(metrics).toMatch(/accuracy\d+(\.\d+)?%/);
    expect(await page.$$eval('table.per-class tr', (trs: any[]) => trs.length)).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-evaluate.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('lists the job as completed and overlays two jobs on the compare page', async () => {
    await page.click('a[data-nav=jobs]');
    await page.waitForSelector(`#jobs-table tr[data-id="${jobId}"][data-status=completed]`);
    // the status filter offers the contract's statuses (read from the served OpenAPI document)
    await page.waitForSelector('select[name=status] option[value=pruned]', { state: 'attached' });
    expect(await page.$$eval('select[name=status] option', (os: any[]) => os.map((o) => o.value))).toEqual(['', ...JOB_STATUSES]);
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    const body = { datasetId: job.datasetId, model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'sgd', learningRate: 0.1 }, epochs: 30, batchSize: 16 };
    const sgd: any = await (await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    // the list updates by itself (polling): the new job shows up and completes without a reload
    await page.waitForSelector(`#jobs-table tr[data-id="${sgd.id}"][data-status=completed]`, { timeout: 60_000 });
    await page.check(`#jobs-table tr[data-id="${jobId}"] input[type=checkbox]`);
    await page.check(`#jobs-table tr[data-id="${sgd.id}"] input[type=checkbox]`);
    await page.click('text=Compare selected');
    await page.waitForFunction(() => document.querySelector('#compare-chart')?.getAttribute('data-points') === '500');
    const legend = await page.$$eval('#compare-chart .u-legend .u-series', (els) => els.map((e) => e.textContent ?? ''));
    expect(legend).toHaveLength(3); // x + two jobs
    expect(legend[1]).toContain('adam');
    expect(legend[2]).toContain('sgd');
    await page.screenshot({ path: join(ARTIFACTS, 'compare.png'), fullPage: true });
    expect(problems).toEqual([]);
    sgdId = sgd.id;
  });

  it('EventSource resumes with ?lastEventId= after the connection ends early: every event once', async () => {
    const full = await (await fetch(`${stack.url}/v1/jobs/${sgdId}/events`, { headers: { accept: 'text/event-stream' } })).text();
    const ids = parseSse(full).map((e) => e.id!);
    expect(ids.length).toBeGreaterThan(4);
    const urls: string[] = [];
    // the first connection gets only the first 3 events, then the stream ends without a terminal event
    let first = true;
    await page.route('**/v1/jobs/*/events*', async (route) => {
      urls.push(route.request().url());
      if (!first) return route.continue();
      first = false;
      const head = sseBlocks(full).filter((b) => parseSse(b)[0]?.id !== undefined).slice(0, 3).join('\n\n') + '\n\n';
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: head });
    });
    try {
      await page.goto(`${stack.url}/ui/#/jobs/${sgdId}`);
      await page.waitForFunction(() => document.querySelector('#stream-state')?.textContent === 'stream: ended');
    } finally {
      await page.unroute('**/v1/jobs/*/events*');
    }
    expect(urls).toHaveLength(2);
    expect(new URL(urls[1]).searchParams.get('lastEventId')).toBe(ids[2]);
    expect(await page.getAttribute('#stream-state', 'data-events')).toBe(String(ids.length));
    expect(await page.getAttribute('#stream-state', 'data-last-id')).toBe(ids.at(-1));
    // then the full history replaces the streamed points: one per epoch
    await page.waitForFunction(() => document.querySelector('.chart-loss')?.getAttribute('data-points') === '30');
  });

  it('with an API key set, reads the stream with fetch and sends Authorization on every call', async () => {
    const auth: Record<string, string | undefined> = {};
    page.on('request', (r) => {
      if (r.url().includes('/v1/')) auth[new URL(r.url()).pathname] = r.headers().authorization;
    });
    await page.fill('#api-key', 'test-key-123');
    await page.click('#key-form button');
    await page.goto(`${stack.url}/ui/#/jobs/${sgdId}`);
    await page.waitForFunction(() => document.querySelector('#stream-state')?.textContent === 'stream: ended');
    // then the full history replaces the streamed points: one per epoch
    await page.waitForFunction(() => document.querySelector('.chart-loss')?.getAttribute('data-points') === '30');
    expect(auth[`/v1/jobs/${sgdId}/events`]).toBe('Bearer test-key-123');
    expect(auth[`/v1/jobs/${sgdId}`]).toBe('Bearer test-key-123');
    expect(auth[`/v1/jobs/${sgdId}/metrics`]).toBe('Bearer test-key-123');
    expect(problems).toEqual([]);
  });

  it('compare via URL ticks the passed jobs in the list', async () => {
    // the list page leaves out the older compared job (as when it is not among the newest): it is fetched by id
    let trimmed = 0;
    await page.route('**/v1/jobs?*', async (route) => {
      trimmed++;
      const res = await route.fetch();
      const body = await res.json();
      await route.fulfill({ response: res, json: { ...body, items: body.items.filter((j: { id: string }) => j.id !== jobId) } });
    });
    try {
      await page.goto(`${stack.url}/ui/#/compare?ids=${jobId},${sgdId}`);
      await page.waitForFunction(() => document.querySelector('#compare-chart')?.getAttribute('data-points') === '500');
      await page.waitForSelector(`#compare-picker input[value="${jobId}"]`);
    } finally {
      await page.unroute('**/v1/jobs?*');
    }
    expect(trimmed).toBeGreaterThan(0);
    const ticked = await page.$$eval('#compare-picker input[type=checkbox]', (els) => els.filter((e) => e.checked).map((e) => e.value));
    expect(ticked.sort()).toEqual([jobId, sgdId].sort());
  });

  it('the Advanced section sends early stopping, dtype and gradient check; its API errors land beside its fields', async () => {
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    await page.goto(`${stack.url}/ui/#/new`);
    await page.waitForSelector(`select[name=datasetId] option[value="${job.datasetId}"]`, { state: 'attached' });
    await page.selectOption('select[name=datasetId]', job.datasetId);
    expect(await page.getAttribute('#advanced', 'open')).toBeNull();
    // the form's defaults are the core's (GET /v1/spec/options): Adam's learning rate 0.001, restoreBest on
    expect(await page.inputValue('input[name=learningRate]')).toBe('');
    expect(await page.getAttribute('input[name=learningRate]', 'placeholder')).toBe('0.001');
    await page.selectOption('select[name=optimizer]', 'sgd');
    expect(await page.getAttribute('input[name=learningRate]', 'placeholder')).toBe('0.01');
    await page.selectOption('select[name=optimizer]', 'adam');
    expect(await page.isChecked('input[name=restoreBest]')).toBe(true);
    // restoreBest unchecked without patience: it is sent (false), and the API's error on
    // earlyStopping.patience opens the section and sits beside the field
    await page.click('#advanced summary');
    await page.uncheck('input[name=restoreBest]');
    await page.click('#submit-job');
    await page.waitForSelector('.field.invalid[data-path~="earlyStopping.patience"] .field-error:not(:empty)');
    await page.check('input[name=restoreBest]');
    await page.fill('input[name=patience]', '3');
    await page.fill('input[name=minDelta]', '0.001');
    await page.selectOption('select[name=dtype]', 'float64');
    await page.check('input[name=gradientCheck]');
    await page.fill('input[name=epochs]', '5');
    await page.click('#submit-job');
    await page.waitForURL(/#\/jobs\//);
    const id = decodeURIComponent(page.url().split('#/jobs/')[1]);
    const sent: any = await (await fetch(`${stack.url}/v1/jobs/${id}`)).json();
    expect(sent.spec).toMatchObject({ earlyStopping: { patience: 3, minDelta: 0.001, restoreBest: true }, dtype: 'float64', gradientCheck: true, validationSplit: 0.2 });
  });

  it('a job that ends before any progress says so instead of waiting for progress', async () => {
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    const body = { datasetId: job.datasetId, model: { layers: [{ units: 64, activation: 'relu' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'sgd', learningRate: 0.01 }, epochs: 5000, batchSize: 2 };
    const post = async () => (await (await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key-123' }, body: JSON.stringify(body) })).json()) as any;
    // fill the workers, then the last one waits in the queue and is cancelled there
    const jobs = [await post(), await post(), await post()];
    const cancel = (id: string) => fetch(`${stack.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: 'Bearer test-key-123' } });
    try {
      // The worker's slot must hold one of these long jobs first: a job that merely looks queued
      // could still be picked up when an earlier test's job frees the slot meanwhile.
      const readStates = () => Promise.all(jobs.map(async (j) => (await fetch(`${stack.url}/v1/jobs/${j.id}`)).json() as any));
      const states = await waitForState('one of the long jobs running', readStates, (all) => all.some((j) => j.status === 'running'), { timeoutMs: 20_000 });
      const queued = states.find((j) => j.status === 'queued' && !j.progress);
      expect(queued, 'a queued job').toBeDefined();
      expect((await cancel(queued.id)).status).toBe(200); // cancelled while queued
      await page.goto(`${stack.url}/ui/#/jobs/${queued.id}`);
      await page.waitForSelector('#job-progress[data-terminal=cancelled]');
      expect(await page.textContent('#job-progress')).toMatch(/^cancelled before training/);
    } finally {
      for (const j of jobs) await cancel(j.id);
    }
  });
  it('a job that diverged inside its first epoch, before any progress event, says where (not "failed before training")', async () => {
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    const headers = { 'content-type': 'application/json', authorization: 'Bearer test-key-123' };
    // sgd at learning rate 1000: the first epoch's mean loss explodes; its 13 steps end long before the first step event (50 ms)
    const body = { datasetId: job.datasetId, model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'sgd', learningRate: 1000 }, epochs: 8, batchSize: 32, seed: 1 };
    const id = ((await (await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as any).id as string;
    const done: any = await waitForState(`job ${id} to fail`, async () => (await (await fetch(`${stack.url}/v1/jobs/${id}`, { headers })).json()) as any, (j) => j.status === 'failed', { timeoutMs: 30_000, intervalMs: 100 });
    expect(done).toMatchObject({ status: 'failed', progress: null, error: { code: 'diverged', epoch: 0, what: 'loss' } });
    expect(done.startedAt).toBeTruthy();
    await page.goto(`${stack.url}/ui/#/jobs/${id}`);
    await page.waitForSelector('#job-progress[data-terminal=failed]');
    const text = await page.textContent('#job-progress');
    expect(text).toMatch(new RegExp(`^failed during training: diverged in epoch 1/8, step ${done.error.step} before the first progress event \\(the loss exploded or went non-finite\\)`));
    expect(text).not.toContain('before training');
  });

  it('a job cancelled after some epochs offers its kept model for download', async () => {
    const job: any = await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json();
    const body = { datasetId: job.datasetId, model: { layers: [{ units: 16, activation: 'tanh' }, { units: 2, activation: 'softmax' }] }, loss: 'softmax_cross_entropy', optimizer: { type: 'adam', learningRate: 0.01 }, epochs: 100000, batchSize: 8 };
    const headers = { 'content-type': 'application/json', authorization: 'Bearer test-key-123' };
    const id = ((await (await fetch(`${stack.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as any).id as string;
    const epochsDone = async () => ((await (await fetch(`${stack.url}/v1/jobs/${id}/metrics`, { headers })).json()) as any).history?.length ?? 0;
    await waitForState(`2 finished epochs of job ${id}`, epochsDone, (n) => n >= 2, { timeoutMs: 30_000, intervalMs: 100 });
    await fetch(`${stack.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: 'Bearer test-key-123' } });
    const done: any = await waitForState(`job ${id} cancelled`, async () => (await (await fetch(`${stack.url}/v1/jobs/${id}`, { headers })).json()) as any, (j) => j.status === 'cancelled', { timeoutMs: 30_000, intervalMs: 100 });
    expect(done.result?.weightsHash).toBeTruthy();
    await page.goto(`${stack.url}/ui/#/jobs/${id}`);
    await page.waitForSelector('#download-model:not([disabled])', { timeout: 10_000 });
  });
});
