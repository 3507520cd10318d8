import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { meanWithBand, niceTicks, renderSvg, writeLearningCurves, type ChartSpec } from '../src/learning/plot.js';

const spec: ChartSpec = {
  title: 'GMPS <door> & push',
  xLabel: 'environment steps',
  yLabel: 'average return',
  series: [
    meanWithBand('GMPS', [0, 1000, 2000, 3000], [[1, 5, 9, 12], [3, 7, 9, 14]]),
    { name: 'MAML "baseline"', x: [0, 1000, 2000, 3000], y: [0, 1, Number.NaN, 3] },
  ],
};

describe('learning-rl plot', () => {
  it('writes valid standalone SVG and HTML containing every series, band and label', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-plot-'));
    try {
      const files = await writeLearningCurves(path.join(dir, 'curves', 'returns'), spec);
      const svg = await readFile(files.svg, 'utf8');
      assert.equal(XMLValidator.validate(svg), true);
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg);
      assert.equal(doc.svg.xmlns, 'http://www.w3.org/2000/svg');
      const groups = doc.svg.g.filter((g: { class?: string }) => g.class === 'series');
      assert.deepEqual(groups.map((g: { 'data-name': string }) => g['data-name']), ['GMPS', 'MAML "baseline"']);
      // the first series has an error band, the second none; the NaN splits its line in two
      assert.ok(groups[0].polygon, 'band polygon');
      assert.equal(groups[1].polygon, undefined);
      assert.equal((groups[1].path.d.match(/M/g) ?? []).length, 2);
      // 4 points + 4 band points back along the lower edge
      assert.equal(groups[0].polygon.points.split(' ').length, 8);
      const texts = JSON.stringify(doc.svg);
      for (const label of ['environment steps', 'average return', 'GMPS <door> & push']) assert.ok(texts.includes(label), label);
      const html = await readFile(files.html, 'utf8');
      assert.ok(html.startsWith('<!DOCTYPE html>'));
      assert.ok(html.includes('<svg'));
      assert.ok(html.includes('<td>MAML &quot;baseline&quot;</td><td>2000</td>'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('computes mean ± std bands and round ticks', () => {
    const s = meanWithBand('a', [0, 1], [[1, 2], [3, 2]]);
    assert.deepEqual(Array.from(s.y), [2, 2]);
    assert.deepEqual(Array.from(s.lower!), [1, 2]);
    assert.deepEqual(Array.from(s.upper!), [3, 2]);
    assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(-0.3, 0.95, 5), [-0.2, 0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(niceTicks(0, 9600, 5), [0, 2000, 4000, 6000, 8000]);
    assert.ok(niceTicks(5, 5).length >= 2, 'a flat series still gets an axis');
  });

  it('rejects mismatched series lengths', () => {
    assert.throws(() => renderSvg({ ...spec, series: [{ name: 'bad', x: [1, 2], y: [1] }] }), /2 x values but 1 y values/);
    assert.throws(() => renderSvg({ ...spec, series: [{ name: 'bad', x: [1], y: [1], lower: [0] }] }), /both lower and upper/);
  });
});
