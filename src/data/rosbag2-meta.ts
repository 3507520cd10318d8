/**
 * The rosbag2 side of an MCAP file: the per-channel `offered_qos_profiles` YAML and the
 * `rosbag2` metadata record (`serialized_metadata`, bag metadata version 8). Policies are written
 * as integers (the form Humble writes and every later distro reads for version <= 8), durations as
 * {sec, nsec} with RMW's "infinite" value, laid out as yaml-cpp dumps them.
 */
export type Reliability = 'reliable' | 'best_effort';
export type Durability = 'volatile' | 'transient_local';

export interface QosSpec {
  reliability?: Reliability;
  durability?: Durability;
}

/** rmw enum values. */
const RELIABILITY = { reliable: 1, best_effort: 2 } as const;
const DURABILITY = { transient_local: 1, volatile: 2 } as const;
/** RMW_QOS_POLICY_HISTORY_UNKNOWN / depth 0: what rosbag2 records for a discovered publisher. */
const HISTORY_UNKNOWN = 3;
const LIVELINESS_AUTOMATIC = 1;
/** RMW_DURATION_INFINITE as rosbag2 serialises it. */
export const INFINITE_DURATION = { sec: 9223372036, nsec: 854775807 };

export function offeredQosYaml(qos: QosSpec = {}): string {
  const d = (key: string): string => `  ${key}:\n    sec: ${INFINITE_DURATION.sec}\n    nsec: ${INFINITE_DURATION.nsec}`;
  return [
    `- history: ${HISTORY_UNKNOWN}`,
    '  depth: 0',
    `  reliability: ${RELIABILITY[qos.reliability ?? 'reliable']}`,
    `  durability: ${DURABILITY[qos.durability ?? 'volatile']}`,
    d('deadline'),
    d('lifespan'),
    `  liveliness: ${LIVELINESS_AUTOMATIC}`,
    d('liveliness_lease_duration'),
    '  avoid_ros_namespace_conventions: false',
  ].join('\n');
}

export interface BagTopicSummary {
  name: string;
  type: string;
  qosYaml: string;
  messageCount: number;
}

export interface BagSummary {
  fileName: string;
  startNs: bigint;
  durationNs: bigint;
  messageCount: number;
  topics: BagTopicSummary[];
  distro: string;
  customData?: Record<string, string>;
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** `serialized_metadata` of the `rosbag2` metadata record (bag metadata version 8). */
export function serializedBagMetadata(b: BagSummary): string {
  const lines = [
    'rosbag2_bagfile_information:',
    '  version: 8',
    '  storage_identifier: mcap',
    '  duration:',
    `    nanoseconds: ${b.durationNs}`,
    '  starting_time:',
    `    nanoseconds_since_epoch: ${b.startNs}`,
    `  message_count: ${b.messageCount}`,
    '  topics_with_message_count:',
  ];
  for (const t of b.topics) {
    lines.push(
      '    - topic_metadata:',
      `        name: ${t.name}`,
      `        type: ${t.type}`,
      '        serialization_format: cdr',
      `        offered_qos_profiles: ${yamlString(t.qosYaml)}`,
      '        type_description_hash: ""',
      `      message_count: ${t.messageCount}`,
    );
  }
  lines.push(
    '  compression_format: ""',
    '  compression_mode: ""',
    '  relative_file_paths:',
    `    - ${b.fileName}`,
    '  files:',
    `    - path: ${b.fileName}`,
    '      starting_time:',
    `        nanoseconds_since_epoch: ${b.startNs}`,
    '      duration:',
    `        nanoseconds: ${b.durationNs}`,
    `      message_count: ${b.messageCount}`,
  );
  const custom = Object.entries(b.customData ?? {});
  if (custom.length === 0) lines.push('  custom_data: ~');
  else {
    lines.push('  custom_data:');
    for (const [k, v] of custom) lines.push(`    ${k}: ${yamlString(v)}`);
  }
  lines.push(`  ros_distro: ${b.distro}`);
  return lines.join('\n');
}
