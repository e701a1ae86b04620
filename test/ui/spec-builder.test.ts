import { describe, expect, it } from 'vitest';
import { localSpecOptions } from '../../src/cli/spec-flags.js';
import { buildSpec, SpecInputError } from '../../src/ui/public/js/spec-builder.js';

// The one builder the dashboard (form fields) and the CLI (flags) share.
const options = localSpecOptions();
const layers = '8:tanh,2:softmax';

describe('spec-builder', () => {
  it('takes the starter values and the loss from the options; an empty learning rate sends nothing (the core default)', () => {
    expect(buildSpec(options, {}, { layers, learningRate: '' })).toEqual({
      model: { layers: [{ units: 8, activation: 'tanh' }, { units: 2, activation: 'softmax' }] },
      optimizer: { type: 'adam' },
      epochs: 50,
      batchSize: 32,
      loss: 'softmax_cross_entropy',
    });
  });

  it('restoreBest: the default (on) alone sends no early stopping; off is sent as false', () => {
    expect(buildSpec(options, {}, { layers, restoreBest: true }).earlyStopping).toBeUndefined();
    expect(buildSpec(options, {}, { layers, restoreBest: true, patience: '3' }).earlyStopping).toEqual({ patience: 3, restoreBest: true });
    expect(buildSpec(options, {}, { layers, restoreBest: false, patience: '3' }).earlyStopping).toEqual({ patience: 3, restoreBest: false });
    expect(buildSpec(options, {}, { layers, restoreBest: false }).earlyStopping).toEqual({ restoreBest: false });
  });

  it('reads only the parameters of the chosen optimizer, by their kind', () => {
    const s = buildSpec(options, {}, { layers, optimizer: 'momentum', momentum: '0.5', nesterov: 'on', variant: 'classic', beta1: '0.1' });
    expect(s.optimizer).toEqual({ type: 'momentum', momentum: 0.5, nesterov: true, variant: 'classic' });
    expect(() => buildSpec(options, {}, { layers, optimizer: 'adam', beta1: 'x' }, (n) => `--${n}`)).toThrow(new SpecInputError('beta1', '--beta1 expects a number, got "x"'));
  });

  it('clip from type:threshold (flags) or type + threshold (form)', () => {
    expect(buildSpec(options, {}, { layers, clip: 'value:0.5' }).clip).toEqual({ type: 'value', value: 0.5 });
    expect(buildSpec(options, {}, { layers, clip: 'global_norm', clipThreshold: '1' }).clip).toEqual({ type: 'global_norm', maxNorm: 1 });
  });
});
