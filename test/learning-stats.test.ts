import assert from 'node:assert/strict';
import { median } from '../src/learning/stats.js';

describe('stats: median', () => {
  it('takes the middle value of an odd count and the mean of the two middle values of an even one, leaving its input as it was', () => {
    const xs = [5, 1, 4];
    assert.equal(median(xs), 4);
    assert.deepEqual(xs, [5, 1, 4], 'not sorted in place');
    assert.equal(median([10, 40, 20, 30]), 25);
    assert.equal(median([7]), 7);
    assert.equal(median([2, 10]), 6, 'numeric, not lexicographic, order');
  });

  it('refuses an empty list', () => {
    assert.throws(() => median([]), /median of no values/);
  });
});
