/** OpenCV for tests: skip (saying why) where the optional binding is missing, fail under GMPS_REQUIRE_ALL=1. */
import { loadOpenCv, type OpenCv } from '../../src/vision/opencv.js';

export async function openCvOrSkip(ctx: Mocha.Context): Promise<OpenCv> {
  try {
    return await loadOpenCv();
  } catch (err) {
    if (process.env.GMPS_REQUIRE_ALL === '1') throw err;
    console.log(`      (skipped: @u4/opencv4nodejs is not installed: ${(err as Error).message.slice(0, 80)}...)`);
    ctx.skip();
  }
}
