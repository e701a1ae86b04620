/** The CLI's pure parts: SSE parsing, spec flags, ETA arithmetic, CSV features. */
import { describe, expect, it } from 'vitest';
import { featuresFromCsv } from '../../src/cli/commands/predict.js';
import { estimateEta, formatDuration, historyLine, ProgressBar } from '../../src/cli/progress-bar.js';
import { SseParser } from '../../src/cli/sse-client.js';
import { buildSpec, parseClip, parseLayers, UsageError } from '../../src/cli/spec-flags.js';

describe('SseParser', () => {
  it('splits events across arbitrary chunk boundaries, CRLF and CR, keeps ids, skips comments', () => {
    const text = ': ping\r\nretry: 2000\r\n\r\nid: 1\r\nevent: status\r\ndata: {"status":"running"}\r\n\r\nid: 2\revent: progress\rdata: {"a":1}\rdata: {"b":2}\r\rdata: no id\n\n';
    for (const size of [1, 2, 3, 7, text.length]) {
      const p = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...p.feed(text.slice(i, i + size)));
      expect(events).toEqual([
        { id: '1', event: 'status', data: '{"status":"running"}' },
        { id: '2', event: 'progress', data: '{"a":1}\n{"b":2}' },
        // the last id carries over, as the SSE spec says
        { id: '2', event: 'message', data: 'no id' },
      ]);
      expect(p.retry).toBe(2000);
    }
  });
});

describe('spec flags', () => {
  it('parses layers and clip and rejects malformed ones', () => {
    expect(parseLayers('16:relu, 2:softmax')).toEqual([{ units: 16, activation: 'relu' }, { units: 2, activation: 'softmax' }]);
    expect(() => parseLayers('16relu')).toThrow(UsageError);
    expect(() => parseLayers('0:relu')).toThrow(UsageError);
    expect(parseClip('global_norm:1')).toEqual({ type: 'global_norm', maxNorm: 1 });
    expect(parseClip('value:0.5')).toEqual({ type: 'value', value: 0.5 });
    expect(() => parseClip('value')).toThrow(UsageError);
    expect(() => parseClip('nrom:1')).toThrow(/clip type must be one of value, norm, global_norm, got "nrom"/);
  });

  it('merges --spec with flags: flags win, a new optimizer type drops the old parameters, loss follows the output', () => {
    const base = { model: { layers: [{ units: 4, activation: 'relu' as const }] }, optimizer: { type: 'momentum' as const, momentum: 0.9, learningRate: 0.1 }, epochs: 5, batchSize: 8 };
    expect(buildSpec(base, { epochs: '9', lr: '0.2' })).toEqual({ ...base, optimizer: { type: 'momentum', momentum: 0.9, learningRate: 0.2 }, epochs: 9, loss: 'mse' });
    const s = buildSpec(base, { optimizer: 'adam', layers: '8:tanh,3:softmax', clip: 'norm:2', schedule: 'step', gamma: '0.5', 'step-size': '10', 'no-normalize': true, patience: '3' });
    expect(s).toMatchObject({
      model: { layers: [{ units: 8, activation: 'tanh' }, { units: 3, activation: 'softmax' }] },
      optimizer: { type: 'adam' },
      loss: 'softmax_cross_entropy',
      clip: { type: 'norm', maxNorm: 2 },
      schedule: { type: 'step', gamma: 0.5, stepSize: 10 },
      normalize: false,
      earlyStopping: { patience: 3 },
    });
    expect(s.optimizer).toEqual({ type: 'adam' });
    expect(buildSpec({}, { layers: '1:sigmoid' }).loss).toBe('binary_cross_entropy');
    expect(() => buildSpec({}, { epochs: 'ten' })).toThrow('--epochs expects a number');
  });
});

describe('progress bar arithmetic', () => {
  it('ETA = elapsed · (1 − to) / (to − from)', () => {
    // 10 s took the job from 20% to 40%: 60% left at 2%/s → 30 s
    expect(estimateEta(10_000, 0.2, 0.4)).toBeCloseTo(30_000, 9);
    expect(estimateEta(10_000, 0.4, 0.4)).toBeUndefined();
    expect(formatDuration(30_000)).toBe('0:30');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });

  it('fraction counts finished steps: epoch 2 (0-based) step 5 of 10, of 4 epochs → 62.5%', () => {
    expect(ProgressBar.fraction({ epoch: 2, step: 5, stepsPerEpoch: 10, epochs: 4, loss: 1 })).toBe(0.625);
    let t = 0;
    const bar = new ProgressBar({ now: () => t, width: 8 });
    expect(bar.line({ epoch: 0, step: 10, stepsPerEpoch: 10, epochs: 4, loss: 0.5 })).toBe('epoch 1/4 ██░░░░░░  25% loss 0.5000 ETA --:--');
    t = 6000;
    // 25% → 50% in 6 s: 50% left → 12 s
    expect(bar.line({ epoch: 1, step: 10, stepsPerEpoch: 10, epochs: 4, loss: 0.25, valLoss: 0.3 })).toBe('epoch 2/4 ████░░░░  50% loss 0.2500 val 0.3000 ETA 0:12');
  });
});

describe('featuresFromCsv', () => {
  it('a model without stored names: drops the named target or the extra last column, and says where a cell is not a number', () => {
    const csv = '\uFEFFa,b,label\r\n1,2,0\r\n"3",4,1\r\n';
    expect(featuresFromCsv(csv, { inputSize: 2 })).toEqual({ rows: [[1, 2], [3, 4]], ignored: ['label'] });
    expect(featuresFromCsv(csv, { inputSize: 2 }, 'a')).toEqual({ rows: [[2, 0], [4, 1]], ignored: ['a'] });
    expect(featuresFromCsv('a,b\n1,2\n', { inputSize: 2 })).toEqual({ rows: [[1, 2]], ignored: [] });
    expect(() => featuresFromCsv('a,b\n1,x\n', { inputSize: 2 })).toThrow('row 2, column 2 (b): "x" is not a number');
    expect(() => featuresFromCsv('a,b,c,d\n1,2,3,4\n', { inputSize: 2 })).toThrow(/takes 2 columns and stores no column names; the file has 4/);
  });

  it('a model with its feature names picks them from the header by name, in any order', () => {
    const model = { inputSize: 2, featureNames: ['x', 'y'] };
    expect(featuresFromCsv('label,y,x\n0,2,1\n1,4,3\n', model)).toEqual({ rows: [[1, 2], [3, 4]], ignored: ['label'] });
    expect(featuresFromCsv('x,y\n1,2\n', model)).toEqual({ rows: [[1, 2]], ignored: [] });
    expect(() => featuresFromCsv('x,z,label\n1,2,0\n', model)).toThrow('the model takes columns x, y; the header (x, z, label) lacks y');
    expect(() => featuresFromCsv('x,y\n1,2\n', model, 'x')).toThrow(/"x" is an input of the model/);
  });
});

describe('QA round: command location, defaults, partial-epoch line', () => {
  it('finds the command after global options with values (--url U jobs list) and before them', async () => {
    const { locateCommand } = await import('../../src/cli/main.js');
    expect(locateCommand(['--url', 'http://127.0.0.1:9', 'jobs', 'list'])).toEqual({ first: 'jobs', sub: 'list', rest: ['--url', 'http://127.0.0.1:9'] });
    expect(locateCommand(['--api-key', 'x', '--json', 'model', 'j1'])).toEqual({ first: 'model', sub: undefined, rest: ['--api-key', 'x', '--json', 'j1'] });
    expect(locateCommand(['jobs', 'get', 'j1', '--url', 'u'])).toEqual({ first: 'jobs', sub: 'get', rest: ['j1', '--url', 'u'] });
  });

  it('train defaults to 50 epochs and batch size 32 unless the flag or --spec gives them', () => {
    const layers = '4:relu,2:softmax';
    expect(buildSpec({}, { layers })).toMatchObject({ epochs: 50, batchSize: 32 });
    expect(buildSpec({ epochs: 7, batchSize: 8 }, { layers })).toMatchObject({ epochs: 7, batchSize: 8 });
    expect(buildSpec({ epochs: 7 }, { layers, 'batch-size': '4' })).toMatchObject({ epochs: 7, batchSize: 4 });
  });

  it('a mid-epoch step event is drawn as partial (step k/n, smoothed loss), not as the epoch loss', () => {
    const bar = new ProgressBar({ now: () => 0 });
    const step = bar.line({ kind: 'step', epoch: 170, epochs: 400, step: 3, stepsPerEpoch: 80, loss: 0.8718, smoothedLoss: 0.1612 });
    expect(step).toMatch(/^epoch 171\/400 step 3\/80 /);
    expect(step).toContain('smoothed loss 0.1612');
    expect(step).not.toContain('0.8718');
    const end = bar.line({ kind: 'epoch', epoch: 170, epochs: 400, step: 80, stepsPerEpoch: 80, loss: 0.1601, smoothedLoss: 0.16 });
    expect(end).toMatch(/^epoch 171\/400 █.* loss 0\.1601/);
    expect(historyLine({ epoch: 4, loss: 0.25, smoothedLoss: 0.2, valLoss: 0.5, accuracy: 0.9, lr: 0.01, gradNormMean: 1, clippedSteps: 0, durationMs: 1, samplesPerSecond: 1 }, 40)).toBe('epoch 5/40 loss 0.2500 val 0.5000 acc 90.0%');
  });
});
