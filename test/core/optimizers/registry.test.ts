import { describe, expect, it } from 'vitest';
import { createOptimizer, OPTIMIZER_REGISTRY } from '../../../src/core/optimizers/index.js';
import { OPTIMIZERS } from '../../../src/core/types.js';
import { expectInvalid } from './helpers.js';

describe('optimizer registry', () => {
  it('has a factory for every OptimizerType and nothing else', () => {
    expect(Object.keys(OPTIMIZER_REGISTRY).sort()).toEqual([...OPTIMIZERS].sort());
    for (const type of OPTIMIZERS) {
      const opt = createOptimizer({ type });
      expect(opt.type).toBe(type);
      expect(opt.steps).toBe(0);
      expect(opt.learningRate).toBe(type === 'adam' || type === 'adamw' ? 0.001 : 0.01);
    }
  });

  it('rejects an unknown type with its path', () => {
    expectInvalid({ type: 'adagrad' as 'adam' }, 'optimizer.type');
    expectInvalid({ type: 'toString' as 'adam' }, 'optimizer.type');
  });
});
