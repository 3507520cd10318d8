/**
 * Frame sources for the camera node: a live camera (OpenCV VideoCapture by device index), a video
 * file (OpenCV), or a folder of images replayed in natural file order. PNG and binary PNM images
 * replay without OpenCV; other formats need it. Frames come out as RGB8 at the requested size.
 * Sources do not pace themselves: the caller's timer sets the rate; `fps` sets device rate and
 * the media timestamps of replays.
 */
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { PNG } from 'pngjs';
import { listImages } from '../../calibration/intrinsics.js';
import type { RgbFrame } from './frame.js';
import { loadOpenCv, type CvMat, type CvVideoCapture, type OpenCv } from './opencv.js';
import { resizeRgb8 } from './preprocess.js';

export type CaptureSource =
  | { kind: 'device'; index: number }
  | { kind: 'video'; path: string }
  | { kind: 'folder'; path: string };

export interface CaptureOptions {
  /** Output size; both or neither. Frames of another size are resized (area interpolation). */
  width?: number;
  height?: number;
  /** Frames per second: requested from devices; the media clock of replays (default 30). */
  fps?: number;
  /** Replays start over at the end instead of ending. */
  loop?: boolean;
}

export interface FrameSource {
  readonly source: CaptureSource;
  readonly fps: number;
  /** The next frame, or null when a replay has ended. */
  read(): Promise<RgbFrame | null>;
  close(): void;
}

/** "0" or "/dev/video0" -> device, an existing folder -> image replay, otherwise a video file. */
export function parseCaptureSource(text: string): CaptureSource {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { kind: 'device', index: Number(t) };
  const dev = /^\/dev\/video(\d+)$/.exec(t);
  if (dev) return { kind: 'device', index: Number(dev[1]) };
  let st;
  try {
    st = statSync(t);
  } catch {
    throw new Error(`camera source '${text}' is neither a device index (0, /dev/video0), an image folder nor a video file that exists`);
  }
  return st.isDirectory() ? { kind: 'folder', path: t } : { kind: 'video', path: t };
}

function checkOptions(o: CaptureOptions): void {
  if ((o.width === undefined) !== (o.height === undefined)) throw new Error('give both width and height for the capture size, or neither');
  for (const [k, v] of [['width', o.width], ['height', o.height]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new Error(`capture ${k} must be a positive integer, got ${v}`);
  }
  if (o.fps !== undefined && !(o.fps > 0)) throw new Error(`capture fps must be positive, got ${o.fps}`);
}

function fitSize(img: { data: Uint8Array; width: number; height: number }, o: CaptureOptions) {
  if (o.width === undefined || o.height === undefined || (img.width === o.width && img.height === o.height)) return img;
  return { data: resizeRgb8(img, o.width, o.height), width: o.width, height: o.height };
}

function matToRgb(cv: OpenCv, mat: CvMat, o: CaptureOptions): { data: Uint8Array; width: number; height: number } {
  let rgb = mat.channels === 1 ? mat.cvtColor(cv.COLOR_GRAY2RGB) : mat.cvtColor(cv.COLOR_BGR2RGB);
  if (o.width !== undefined && o.height !== undefined && (rgb.cols !== o.width || rgb.rows !== o.height)) {
    rgb = rgb.resize(o.height, o.width, 0, 0, cv.INTER_AREA);
  }
  const buf = rgb.getData();
  return { data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), width: rgb.cols, height: rgb.rows };
}

/** Decodes PNG or binary PGM/PPM to RGB8 in TypeScript; null for other formats. */
export function decodeImageFile(file: string): { data: Uint8Array; width: number; height: number } | null {
  const ext = extname(file).toLowerCase();
  if (ext === '.png') {
    const png = PNG.sync.read(readFileSync(file));
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = png.data[j];
      rgb[i + 1] = png.data[j + 1];
      rgb[i + 2] = png.data[j + 2];
    }
    return { data: rgb, width: png.width, height: png.height };
  }
  if (ext === '.pgm' || ext === '.ppm' || ext === '.pnm') return decodePnm(file, readFileSync(file));
  return null;
}

function decodePnm(file: string, buf: Buffer): { data: Uint8Array; width: number; height: number } {
  const fields: string[] = [];
  let pos = 0;
  while (fields.length < 4 && pos < buf.length) {
    while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
    if (buf[pos] === 0x23) {
      while (pos < buf.length && buf[pos] !== 0x0a) pos++;
      continue;
    }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    fields.push(buf.toString('latin1', start, pos));
  }
  pos++; // the single whitespace after maxval
  const [magic, w, h, max] = fields;
  const width = Number(w);
  const height = Number(h);
  const channels = magic === 'P6' ? 3 : magic === 'P5' ? 1 : 0;
  if (!channels || !(width > 0 && height > 0) || Number(max) !== 255) {
    throw new Error(`${file}: only binary 8-bit PGM (P5) / PPM (P6) images are supported, got ${magic} maxval ${max}`);
  }
  const need = width * height * channels;
  if (buf.length - pos < need) throw new Error(`${file}: truncated image data (${buf.length - pos} of ${need} bytes)`);
  const px = buf.subarray(pos, pos + need);
  if (channels === 3) return { data: new Uint8Array(px), width, height };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = px[i];
  return { data: rgb, width, height };
}

class FolderSource implements FrameSource {
  private next = 0;
  private seq = 0;
  private cv: OpenCv | undefined;
  readonly fps: number;
  constructor(
    readonly source: { kind: 'folder'; path: string },
    private readonly files: string[],
    private readonly options: CaptureOptions,
  ) {
    this.fps = options.fps ?? 30;
  }

  async read(): Promise<RgbFrame | null> {
    if (this.next >= this.files.length) {
      if (!this.options.loop) return null;
      this.next = 0;
    }
    const file = this.files[this.next++];
    let img = decodeImageFile(file);
    if (!img) {
      this.cv ??= await loadOpenCv();
      const mat = this.cv.imread(file, this.cv.IMREAD_COLOR);
      if (mat.empty) throw new Error(`${file}: cannot be read as an image`);
      img = matToRgb(this.cv, mat, this.options);
    }
    const sized = fitSize(img, this.options);
    const seq = this.seq++;
    return { ...sized, seq, timestamp: seq / this.fps };
  }

  close(): void {
    this.next = this.files.length;
    this.options.loop = false;
  }
}

class OpenCvSource implements FrameSource {
  private seq = 0;
  constructor(
    readonly source: CaptureSource,
    private readonly cv: OpenCv,
    private cap: CvVideoCapture | undefined,
    readonly fps: number,
    private readonly options: CaptureOptions,
  ) {}

  async read(): Promise<RgbFrame | null> {
    if (!this.cap) return null;
    let mat = this.cap.read();
    if (mat.empty && this.source.kind === 'video' && this.options.loop && this.seq > 0) {
      this.cap.release();
      this.cap = openVideoCapture(this.cv, this.source.path, this.source.path);
      mat = this.cap.read();
    }
    if (mat.empty) {
      if (this.source.kind === 'device') throw new Error(`camera ${this.source.index} stopped delivering frames (unplugged?)`);
      return null;
    }
    const img = matToRgb(this.cv, mat, this.options);
    const seq = this.seq++;
    const timestamp = this.source.kind === 'device' ? Date.now() / 1000 : seq / this.fps;
    return { ...img, seq, timestamp };
  }

  close(): void {
    this.cap?.release();
    this.cap = undefined;
  }
}

function openVideoCapture(cv: OpenCv, what: string | number, label: string): CvVideoCapture {
  try {
    return new cv.VideoCapture(what);
  } catch (err) {
    throw new Error(`cannot open ${label}: ${(err as Error).message}`);
  }
}

export async function openCapture(source: CaptureSource | string, options: CaptureOptions = {}): Promise<FrameSource> {
  const src = typeof source === 'string' ? parseCaptureSource(source) : source;
  const opts = { ...options };
  checkOptions(opts);
  if (src.kind === 'folder') {
    const files = listImages(src.path);
    if (files.length === 0) throw new Error(`image folder ${src.path} holds no images (.png, .jpg, .pgm, ...)`);
    return new FolderSource(src, files, opts);
  }
  const cv = await loadOpenCv();
  if (src.kind === 'video') {
    const cap = openVideoCapture(cv, src.path, `video file ${src.path}`);
    const fps = opts.fps ?? (cap.get(cv.CAP_PROP_FPS) || 30);
    return new OpenCvSource(src, cv, cap, fps, opts);
  }
  const cap = openVideoCapture(cv, src.index, `camera ${src.index} (/dev/video${src.index}; check it exists and you may read it, e.g. group 'video')`);
  if (opts.width !== undefined && opts.height !== undefined) {
    cap.set(cv.CAP_PROP_FRAME_WIDTH, opts.width);
    cap.set(cv.CAP_PROP_FRAME_HEIGHT, opts.height);
  }
  if (opts.fps !== undefined) cap.set(cv.CAP_PROP_FPS, opts.fps);
  const fps = opts.fps ?? (cap.get(cv.CAP_PROP_FPS) || 30);
  return new OpenCvSource(src, cv, cap, fps, opts);
}
