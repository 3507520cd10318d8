import assert from 'node:assert/strict';
import { median, percentile } from '../src/learning/stats.js';

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

describe('stats: percentile', () => {
  it('takes the nearest-rank quantile in numeric order, leaving its input as it was', () => {
    const lat = Array.from({ length: 100 }, (_, i) => 100 - i); // 100, 99, ..., 1
    assert.equal(percentile(lat, 0.99), 99, 'p99 of 1..100 is the 99th smallest');
    assert.equal(percentile(lat, 0.5), 50);
    assert.equal(percentile(lat, 1), 100);
    assert.equal(lat[0], 100, 'not sorted in place');
    assert.equal(percentile([3, 20, 100], 0.99), 100, 'numeric, not lexicographic, order');
    assert.equal(percentile([7], 0.01), 7);
  });

  it('refuses an empty list and a q outside (0, 1]', () => {
    assert.throws(() => percentile([], 0.5), /percentile of no values/);
    assert.throws(() => percentile([1, 2], 0), /q must be in \(0, 1\]/);
    assert.throws(() => percentile([1, 2], 1.5), /q must be in \(0, 1\]/);
  });
});
