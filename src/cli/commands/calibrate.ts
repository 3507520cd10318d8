/** `gmps calibrate ...`: camera intrinsics, eye-to-hand extrinsics, door hinge; `gmps bench preprocess`. */
import type { Command } from 'commander';
import { parseNumber as num } from '../args.js';
import { CliError } from '../errors.js';

/** Library errors are user errors here (bad files, missing OpenCV, degenerate data): no stack. */
async function asCliErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError)) throw new CliError(err.message);
    throw err;
  }
}

const note = (json: boolean | undefined, line: string) => {
  if (!json) process.stderr.write(`${line}\n`);
};

const print = (json: boolean | undefined, result: Record<string, unknown>, human: string) =>
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${human}\n`);

interface IntrinsicsOpts {
  images: string;
  board: string;
  squareM: string;
  out: string;
  cameraName: string;
  minImages: string;
  json?: boolean;
}

interface ExtrinsicsOpts {
  samples: string;
  out: string;
  intrinsics?: string;
  board: string;
  squareM?: string;
  parentFrame: string;
  childFrame: string;
  maxReprojectionPx: string;
  refine: boolean;
  json?: boolean;
}

interface DoorOpts {
  positions: string;
  out: string;
  closedIndex?: string;
  frameId?: string;
  json?: boolean;
}

export function registerCalibrate(program: Command, bench: Command): void {
  const cal = program
    .command('calibrate')
    .description('camera intrinsics, camera pose in the robot base frame (eye-to-hand), door hinge axis');

  cal
    .command('intrinsics')
    .description(
      'camera matrix and plumb_bob distortion from checkerboard photos (OpenCV); writes camera_calibration_parsers YAML ' +
        '(15-30 photos, board tilted up to ~30 degrees, covering the whole image)',
    )
    .requiredOption('--images <dir>', 'folder of checkerboard images (.png, .jpg, ...), one resolution')
    .option('--board <colsxrows>', 'inner corners of the board, e.g. 9x6 (a 10x7-square board)', '9x6')
    .requiredOption('--square-m <m>', 'side of one square in metres, e.g. 0.025')
    .requiredOption('--out <file>', 'calibration YAML to write (e.g. calibration/camera.yaml)')
    .option('--camera-name <name>', 'camera_name field of the YAML', 'camera')
    .option('--min-images <n>', 'fail unless the board is found in at least this many images', '5')
    .option('--json', 'print one JSON object {fx, fy, cx, cy, rms, images_used, ...}')
    .action((opts: IntrinsicsOpts) =>
      asCliErrors(async () => {
        const { calibrateIntrinsics, listImages, parseBoardSpec } = await import('../../../calibration/intrinsics.js');
        const { writeCameraCalibration } = await import('../../../calibration/camera-info.js');
        const board = parseBoardSpec(opts.board, num('--square-m', opts.squareM, (n) => n > 0, 'a positive length in metres'));
        const files = listImages(opts.images);
        if (files.length === 0) throw new CliError(`${opts.images} holds no images (.png, .jpg, .bmp, .pgm, ...)`);
        let i = 0;
        const r = await calibrateIntrinsics(files, board, {
          cameraName: opts.cameraName,
          minImages: num('--min-images', opts.minImages, (n) => Number.isInteger(n) && n >= 3, 'an integer >= 3'),
          onImage: (file, found) => note(opts.json, `[${++i}/${files.length}] ${file}: ${found ? 'board found' : 'board NOT found, skipped'}`),
        });
        const comment = [
          `gmps calibrate intrinsics: RMS reprojection error ${r.rms.toFixed(4)} px`,
          `board ${board.cols}x${board.rows} inner corners, square ${board.squareM} m; ${r.imagesUsed.length} images used, ${r.imagesRejected.length} rejected`,
        ].join('\n');
        writeCameraCalibration(opts.out, r.calibration, comment);
        if (r.rms > 1) note(opts.json, `warning: RMS ${r.rms.toFixed(2)} px is high (expect < 0.5 px); check --square-m, focus and motion blur`);
        print(
          opts.json,
          {
            fx: r.fx,
            fy: r.fy,
            cx: r.cx,
            cy: r.cy,
            rms: r.rms,
            images_used: r.imagesUsed.length,
            images_rejected: r.imagesRejected.length,
            distortion: r.distortion,
            width: r.calibration.imageWidth,
            height: r.calibration.imageHeight,
            out: opts.out,
          },
          `fx ${r.fx.toFixed(2)}  fy ${r.fy.toFixed(2)}  cx ${r.cx.toFixed(2)}  cy ${r.cy.toFixed(2)}  ` +
            `rms ${r.rms.toFixed(3)} px  (${r.imagesUsed.length}/${files.length} images)\nwrote ${opts.out}`,
        );
      }),
    );

  cal
    .command('extrinsics')
    .description(
      'eye-to-hand: pose of a fixed camera in the robot base frame from a checkerboard held by the gripper at several arm ' +
        'poses (AX = XB, Park & Martin 1994, then joint refinement). Record 10-20 poses that tilt and twist the wrist',
    )
    .requiredOption('--samples <file>', 'YAML/JSON: samples: [{base_to_gripper: {translation, rotation}, image | camera_to_board}]')
    .requiredOption('--out <file>', 'extrinsics YAML to write (a static transform base -> camera optical frame)')
    .option('--intrinsics <file>', 'camera calibration YAML (needed when samples have images)')
    .option('--board <colsxrows>', 'inner corners of the gripper-held board', '9x6')
    .option('--square-m <m>', 'side of one square in metres (needed when samples have images)')
    .option('--parent-frame <name>', 'robot base frame name', 'base')
    .option('--child-frame <name>', 'camera optical frame name', 'camera_optical_frame')
    .option('--max-reprojection-px <px>', 'skip images whose board pose reprojects worse than this', '1.0')
    .option('--no-refine', 'keep the Park-Martin closed form (skip the joint Gauss-Newton refinement)')
    .option('--json', 'print one JSON object')
    .action((opts: ExtrinsicsOpts) =>
      asCliErrors(async () => {
        const { readHandEyeSamples, writeHandEye } = await import('../../../calibration/hand-eye-file.js');
        const { solveEyeToHand } = await import('../../../calibration/hand-eye.js');
        const { poseToRecord } = await import('../../../calibration/transforms.js');
        const entries = readHandEyeSamples(opts.samples);
        const maxPx = num('--max-reprojection-px', opts.maxReprojectionPx, (n) => n > 0, 'a positive number');
        const samples = [];
        const skipped: string[] = [];
        for (const [i, e] of entries.entries()) {
          if (e.cameraToBoard) {
            samples.push({ baseToGripper: e.baseToGripper, cameraToBoard: e.cameraToBoard });
            continue;
          }
          if (!opts.intrinsics || !opts.squareM) {
            throw new CliError(`samples[${i}] has an image: pass --intrinsics <camera.yaml> and --square-m <m> (and --board if not 9x6)`);
          }
          const { readCameraCalibration } = await import('../../../calibration/camera-info.js');
          const { parseBoardSpec } = await import('../../../calibration/intrinsics.js');
          const { boardPoseFromImage } = await import('../../../calibration/board-pose.js');
          const board = parseBoardSpec(opts.board, num('--square-m', opts.squareM, (n) => n > 0, 'a positive length in metres'));
          const pose = await boardPoseFromImage(e.image!, readCameraCalibration(opts.intrinsics), board);
          if (!pose || pose.reprojectionRmsPx > maxPx) {
            const why = pose ? `reprojection ${pose.reprojectionRmsPx.toFixed(2)} px > ${maxPx}` : 'board not found';
            skipped.push(`${e.image}: ${why}`);
            note(opts.json, `[${i + 1}/${entries.length}] ${e.image}: ${why}, skipped`);
            continue;
          }
          note(opts.json, `[${i + 1}/${entries.length}] ${e.image}: board at ${pose.cameraToBoard.translation.map((c) => c.toFixed(3)).join(', ')} m, ${pose.reprojectionRmsPx.toFixed(2)} px`);
          samples.push({ baseToGripper: e.baseToGripper, cameraToBoard: pose.cameraToBoard });
        }
        const result = solveEyeToHand(samples, { refine: opts.refine });
        writeHandEye(opts.out, result, {
          parentFrame: opts.parentFrame,
          childFrame: opts.childFrame,
          samplesUsed: samples.length,
          samplesSkipped: skipped,
        });
        const rec = poseToRecord(result.baseToCamera);
        const t = rec.translation;
        const q = rec.rotation;
        print(
          opts.json,
          {
            parent_frame: opts.parentFrame,
            child_frame: opts.childFrame,
            translation: t,
            rotation: q,
            rms_translation_m: result.rmsTranslationM,
            rms_rotation_rad: result.rmsRotationRad,
            samples_used: samples.length,
            samples_skipped: skipped.length,
            method: result.method,
            out: opts.out,
          },
          `${opts.parentFrame} -> ${opts.childFrame}: translation ${[t.x, t.y, t.z].map((c) => c.toFixed(4)).join(' ')} m, ` +
            `quaternion (x y z w) ${[q.x, q.y, q.z, q.w].map((c) => c.toFixed(5)).join(' ')}\n` +
            `residual rms ${(result.rmsTranslationM * 1000).toFixed(2)} mm, ${((result.rmsRotationRad * 180) / Math.PI).toFixed(3)} deg ` +
            `over ${samples.length} samples (${skipped.length} skipped)\nwrote ${opts.out}`,
        );
      }),
    );

  cal
    .command('door')
    .description(
      'door hinge axis, handle radius and closed angle from hand positions recorded while the gripper holds the handle ' +
        'and the door is swung open (start closed; 20+ positions over 45+ degrees)',
    )
    .requiredOption('--positions <file>', 'CSV (x,y,z per line, metres, base frame) or YAML/JSON {positions: [[x,y,z], ...]}')
    .requiredOption('--out <file>', 'door hinge YAML to write (read by the reward node)')
    .option('--closed-index <n>', 'index of the sample taken with the door closed (default: the file\'s closed_index, else 0)')
    .option('--frame-id <name>', 'frame of the positions (default: the file\'s frame_id, else base)')
    .option('--json', 'print one JSON object')
    .action((opts: DoorOpts) =>
      asCliErrors(async () => {
        const { fitDoorHinge, readHandPositions, writeDoorHinge } = await import('../../../calibration/door-hinge.js');
        const rec = readHandPositions(opts.positions);
        const closedIndex =
          opts.closedIndex !== undefined
            ? num('--closed-index', opts.closedIndex, (n) => Number.isInteger(n) && n >= 0, 'a sample index')
            : rec.closedIndex;
        const fit = fitDoorHinge(rec.positions, { closedIndex, frameId: opts.frameId ?? rec.frameId });
        writeDoorHinge(opts.out, fit);
        const h = fit.hinge;
        const deg = (r: number) => (r * 180) / Math.PI;
        print(
          opts.json,
          {
            frame_id: h.frameId,
            axis_point: h.axisPoint,
            axis_direction: h.axisDirection,
            radius_m: h.radiusM,
            radial_rms_m: fit.radialRmsM,
            plane_rms_m: fit.planeRmsM,
            angle_range_deg: fit.angleRangeRad.map(deg),
            samples: fit.samples,
            out: opts.out,
          },
          `hinge axis through ${h.axisPoint.map((c) => c.toFixed(4)).join(' ')} along ${h.axisDirection.map((c) => c.toFixed(4)).join(' ')} (${h.frameId})\n` +
            `handle radius ${h.radiusM.toFixed(4)} m; fit rms ${(fit.radialRmsM * 1000).toFixed(2)} mm radial, ${(fit.planeRmsM * 1000).toFixed(2)} mm off-plane; ` +
            `recorded swing ${deg(fit.angleRangeRad[0]).toFixed(1)}..${deg(fit.angleRangeRad[1]).toFixed(1)} deg\nwrote ${opts.out}`,
        );
      }),
    );

  bench
    .command('preprocess')
    .description('camera frame -> 48x64 policy input: median ms per frame, TypeScript (area, bilinear) and OpenCV where installed')
    .option('--width <px>', 'source frame width', '640')
    .option('--height <px>', 'source frame height', '480')
    .option('--repeats <n>', 'frames timed per method', '200')
    .option('--json', 'print one JSON object')
    .action((opts: { width: string; height: string; repeats: string; json?: boolean }) =>
      asCliErrors(async () => {
        const { preprocessFrame, preprocessFrameOpenCv } = await import('../../vision/preprocess.js');
        const { loadOpenCv } = await import('../../vision/opencv.js');
        const positive = (n: number) => Number.isInteger(n) && n > 0;
        const width = num('--width', opts.width, positive, 'a positive integer');
        const height = num('--height', opts.height, positive, 'a positive integer');
        const repeats = num('--repeats', opts.repeats, positive, 'a positive integer');
        const frame = { data: new Uint8Array(width * height * 3), width, height };
        for (let i = 0; i < frame.data.length; i++) frame.data[i] = (i * 2654435761) >>> 24;
        const median = (fn: () => void) => {
          for (let i = 0; i < 5; i++) fn();
          const t: number[] = [];
          for (let i = 0; i < repeats; i++) {
            const s = process.hrtime.bigint();
            fn();
            t.push(Number(process.hrtime.bigint() - s) / 1e6);
          }
          return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
        };
        const out = new Float32Array(48 * 64 * 3);
        const result: Record<string, number | string | null> = {
          source: `${width}x${height}`,
          output: '48x64x3',
          ts_area_ms: median(() => preprocessFrame(frame, {}, out)),
          ts_bilinear_ms: median(() => preprocessFrame(frame, { interpolation: 'bilinear' }, out)),
          opencv_area_ms: null,
        };
        try {
          const cv = await loadOpenCv();
          result.opencv_area_ms = median(() => preprocessFrameOpenCv(cv, frame));
        } catch {
          result.opencv_area_ms = null;
        }
        print(opts.json, result, Object.entries(result).map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'number' ? v.toFixed(4) : v}`).join('\n'));
      }),
    );
}
