/** Quality of service, as plain data. Defaults and presets follow rmw's `qos_profile_*`. */
import { GraphError } from './errors.js';

export type QoSHistory = 'keep_last' | 'keep_all';
export type QoSReliability = 'reliable' | 'best_effort';
export type QoSDurability = 'volatile' | 'transient_local';

export interface QoSProfile {
  history: QoSHistory;
  /** Queue length for keep_last (publisher history and subscription queue). */
  depth: number;
  reliability: QoSReliability;
  durability: QoSDurability;
}

export const QOS_PROFILES = {
  /** rmw_qos_profile_default */
  default: { history: 'keep_last', depth: 10, reliability: 'reliable', durability: 'volatile' },
  /** rmw_qos_profile_sensor_data */
  sensor_data: { history: 'keep_last', depth: 5, reliability: 'best_effort', durability: 'volatile' },
  system_default: { history: 'keep_last', depth: 10, reliability: 'reliable', durability: 'volatile' },
  services_default: { history: 'keep_last', depth: 10, reliability: 'reliable', durability: 'volatile' },
  parameters: { history: 'keep_last', depth: 1000, reliability: 'reliable', durability: 'volatile' },
  /** Late joiners get the last message (robot_description-style topics, status). */
  latched: { history: 'keep_last', depth: 1, reliability: 'reliable', durability: 'transient_local' },
  /** rclcpp::ClockQoS, used for `/clock`. */
  clock: { history: 'keep_last', depth: 1, reliability: 'best_effort', durability: 'volatile' },
} as const satisfies Record<string, QoSProfile>;

export type QoSProfileName = keyof typeof QOS_PROFILES;

/** A profile name, a keep_last depth, or a partial profile over `default`. */
export type QoSLike = QoSProfileName | number | Partial<QoSProfile>;

export function resolveQoS(qos: QoSLike | undefined): QoSProfile {
  if (qos === undefined) return { ...QOS_PROFILES.default };
  if (typeof qos === 'string') {
    const profile = (QOS_PROFILES as Record<string, QoSProfile>)[qos];
    if (!profile) {
      throw new GraphError(`unknown QoS profile '${qos}'; use one of ${Object.keys(QOS_PROFILES).join(', ')}`);
    }
    return { ...profile };
  }
  const merged: QoSProfile =
    typeof qos === 'number' ? { ...QOS_PROFILES.default, depth: qos } : { ...QOS_PROFILES.default, ...qos };
  if (!Number.isInteger(merged.depth) || merged.depth < 0) {
    throw new GraphError(`QoS depth must be a non-negative integer, got ${merged.depth}`);
  }
  if (merged.history === 'keep_last' && merged.depth === 0) {
    throw new GraphError('QoS keep_last needs depth >= 1');
  }
  if (!['keep_last', 'keep_all'].includes(merged.history)) throw new GraphError(`bad QoS history '${merged.history}'`);
  if (!['reliable', 'best_effort'].includes(merged.reliability)) {
    throw new GraphError(`bad QoS reliability '${merged.reliability}'`);
  }
  if (!['volatile', 'transient_local'].includes(merged.durability)) {
    throw new GraphError(`bad QoS durability '${merged.durability}'`);
  }
  return merged;
}

/**
 * Why a publisher and a subscription would not match under DDS rules, or undefined when they do:
 * a reliable subscription needs a reliable publisher; a transient_local subscription needs a
 * transient_local publisher.
 */
export function qosIncompatibility(pub: QoSProfile, sub: QoSProfile): string | undefined {
  if (sub.reliability === 'reliable' && pub.reliability === 'best_effort') {
    return 'subscription wants RELIABLE but the publisher offers BEST_EFFORT';
  }
  if (sub.durability === 'transient_local' && pub.durability === 'volatile') {
    return 'subscription wants TRANSIENT_LOCAL but the publisher offers VOLATILE';
  }
  return undefined;
}
