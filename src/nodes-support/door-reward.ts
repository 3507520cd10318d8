/**
 * Door reward inputs on a rig without privileged simulator state: where the handle is for a calibrated hinge,
 * and how far the hand is from it (the GMPS grasp distance), from the hand position alone.
 */
import { doorAngleFromHand, type DoorHinge } from '../../calibration/door-hinge.js';
import { cross3, type Vec3 } from '../../calibration/transforms.js';

/** Handle position at door angle `angle` (rad) on the calibrated hinge circle. */
export function handleOnHinge(hinge: DoorHinge, angle: number): Vec3 {
  const z = hinge.zeroDirection, a = hinge.axisDirection, p = hinge.axisPoint;
  const w = cross3(a, z); // rotating zero by +90 deg about the axis
  const c = Math.cos(angle) * hinge.radiusM, s = Math.sin(angle) * hinge.radiusM;
  return [p[0] + c * z[0] + s * w[0], p[1] + c * z[1] + s * w[1], p[2] + c * z[2] + s * w[2]];
}

/**
 * Distance from the hand to the handle when the door angle is `angle` (rad). Without an encoder the angle is
 * the hand's own angle about the hinge, and this is the hand's distance from the handle circle.
 */
export function graspDistanceOnHinge(hinge: DoorHinge, hand: Vec3, angle = doorAngleFromHand(hinge, hand)): number {
  const h = handleOnHinge(hinge, angle);
  return Math.hypot(hand[0] - h[0], hand[1] - h[1], hand[2] - h[2]);
}
