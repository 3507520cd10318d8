/**
 * Camera node: frames from a device (OpenCV VideoCapture), a video file (OpenCV) or an image folder (PNG/PNM
 * replay needs no OpenCV) to `image_raw` (sensor_msgs/Image rgb8) and `camera_info` (from a
 * camera_calibration_parsers YAML, e.g. `gmps calibrate intrinsics`; without one, CameraInfo carries only the
 * size, as uncalibrated ROS drivers do). A finished replay ends the node unless `loop` is set.
 */
import { readCameraCalibration, cameraInfoFields, type CameraInfoFields } from '../calibration/camera-info.js';
import { defineNode, runIfMain } from '../src/graph/index.js';
import { hzToPeriodNs } from '../src/graph/time.js';
import { openCapture, parseCaptureSource } from '../src/vision/capture.js';
import { OpenCvUnavailableError } from '../src/vision/opencv.js';

const node = defineNode({
  name: 'camera',
  description: 'camera device, video file or image folder → image_raw + camera_info',
  async create(ros, ctx) {
    const sourceText = ros.declareParameter('source', 'string', '0', {
      description: 'Device index or /dev/videoN, a video file, or a folder of images',
      readOnly: true,
    });
    const width = ros.declareParameter('width', 'integer', 0, { description: 'Output width (px); 0 = as captured', readOnly: true, range: { from: 0, to: 8192 } });
    const height = ros.declareParameter('height', 'integer', 0, { description: 'Output height (px); 0 = as captured', readOnly: true, range: { from: 0, to: 8192 } });
    const fps = ros.declareParameter('fps', 'double', 30.0, { description: 'Frames per second published', readOnly: true, range: { from: 0.1, to: 1000 } });
    const frameId = ros.declareParameter('frame_id', 'string', 'camera_optical_frame', { description: 'frame_id of images and camera_info (optical frame, REP-103)' });
    const calibrationFile = ros.declareParameter('calibration_file', 'string', '', {
      description: 'camera_calibration_parsers YAML with the intrinsics; empty = uncalibrated camera_info',
      readOnly: true,
    });
    const loop = ros.declareParameter('loop', 'bool', false, { description: 'Replay video files and image folders forever', readOnly: true });
    if ((width === 0) !== (height === 0)) throw new Error('set both width and height (or neither) for the camera output size');

    const calibration = calibrationFile ? readCameraCalibration(calibrationFile) : undefined;
    const source = parseCaptureSource(sourceText);
    let capture;
    try {
      capture = await openCapture(source, { width: width || undefined, height: height || undefined, fps, loop });
    } catch (err) {
      if (err instanceof OpenCvUnavailableError) {
        throw new Error(`camera source '${sourceText}' (${source.kind}) needs OpenCV; image folders of PNG/PNM files do not. ${err.message}`);
      }
      throw err;
    }
    const log = ros.getLogger();
    const imagePub = ros.createPublisher('sensor_msgs/msg/Image', 'image_raw', { qos: 'sensor_data' });
    const infoPub = ros.createPublisher('sensor_msgs/msg/CameraInfo', 'camera_info', { qos: 'sensor_data' });
    let info: CameraInfoFields | undefined = calibration ? cameraInfoFields(calibration) : undefined;
    let checked = false;

    let finish!: () => void;
    let fail!: (err: Error) => void;
    const done = new Promise<void>((res, rej) => ((finish = res), (fail = rej)));
    done.catch(() => {}); // reported through `done` to whoever runs the node
    const timer = ros.createTimer(hzToPeriodNs(fps), async () => {
      let frame;
      try {
        frame = await capture.read();
      } catch (err) {
        timer.cancel();
        fail(new Error(`camera source '${sourceText}' failed: ${(err as Error).message}`));
        return;
      }
      if (!frame) {
        timer.cancel();
        log.info(`replay of ${sourceText} ended`);
        finish();
        return;
      }
      if (!checked) {
        checked = true;
        if (info && (info.width !== frame.width || info.height !== frame.height)) {
          timer.cancel();
          fail(
            new Error(
              `${calibrationFile} is a calibration for ${info.width}x${info.height} images but the camera gives ${frame.width}x${frame.height}; ` +
                `set width/height to ${info.width}/${info.height} or calibrate at this size`,
            ),
          );
          return;
        }
        info ??= { width: frame.width, height: frame.height, distortion_model: '', d: [], k: new Array(9).fill(0), r: new Array(9).fill(0), p: new Array(12).fill(0) };
      }
      const header = { stamp: ros.now().toMsg(), frame_id: frameId };
      imagePub.publish({ header, height: frame.height, width: frame.width, encoding: 'rgb8', is_bigendian: 0, step: frame.width * 3, data: frame.data });
      infoPub.publish({
        header,
        ...info!,
        binning_x: 0,
        binning_y: 0,
        roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
      });
    });
    ctx.signal.addEventListener('abort', () => timer.cancel(), { once: true });
    return { done, shutdown: () => capture.close() };
  },
});

export default node;
await runIfMain(import.meta.url, node);
