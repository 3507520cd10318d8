/** An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC, like `sensor_msgs/Image` rgb8). */
export interface RgbFrame {
  data: Uint8Array;
  width: number;
  height: number;
  /** Seconds: wall clock for live devices, media time from the start for video files and image folders. */
  timestamp: number;
  /** 0-based frame number since the source was opened. */
  seq: number;
}

export function checkRgbFrame(f: { data: Uint8Array; width: number; height: number }): void {
  if (!Number.isInteger(f.width) || !Number.isInteger(f.height) || f.width <= 0 || f.height <= 0) {
    throw new Error(`RGB frame has invalid size ${f.width}x${f.height}`);
  }
  if (f.data.length !== f.width * f.height * 3) {
    throw new Error(`RGB frame of ${f.width}x${f.height} needs ${f.width * f.height * 3} bytes (rgb8), got ${f.data.length}`);
  }
}
