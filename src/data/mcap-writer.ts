/**
 * Records episodes as rosbag2-compatible MCAP (profile `ros2`, `cdr` channels with
 * `offered_qos_profiles`, `ros2msg` schemas, statistics + summary) that `ros2 bag play` and
 * Foxglove open.
 *
 * Writes go through one promise queue, so every `McapWriter` call completes before the next
 * starts, while callers (camera, joint states) keep producing. Messages are serialized when
 * offered, so callers may reuse their buffers. Crash safety: chunks are finalized every
 * `chunkSize` bytes and written straight to the file (and `fdatasync`ed at most every
 * `syncIntervalMs`), so a killed recorder leaves every completed chunk readable; the episode's
 * task metadata is written at the start, outside chunks. `readMcapEpisode` recovers such files.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { McapWriter, LIBRARY_IDENTIFIER, type IWritable } from '@mcap/core';
import { FileHandleWritable } from '@mcap/nodejs';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { checkMessageShape, fullTypeName, ros2Definitions, ros2msgSchemaText, type Ros2Distro } from './ros2-types.js';
import type { MessageDefinition } from '@foxglove/message-definition';
import { offeredQosYaml, serializedBagMetadata, type QosSpec } from './rosbag2-meta.js';

export const EPISODE_METADATA = 'gmps.episode';
export const EPISODE_RESULT_METADATA = 'gmps.episode.result';
export const ROSBAG2_METADATA = 'rosbag2';

export interface RecorderTopic {
  topic: string;
  /** ROS 2 type, `pkg/msg/Type` (or `pkg/Type`). */
  type: string;
  qos?: QosSpec;
}

export interface McapRecorderOptions {
  path: string;
  topics: RecorderTopic[];
  /** Bytes of messages per chunk before it is written; bounds what a crash can lose. Default 1 MiB. */
  chunkSize?: number;
  distro?: Ros2Distro;
  /** Receive-time clock in ns since the epoch (the MCAP log time); default the wall clock. */
  clockNs?: () => bigint;
  /** Written at the start as the `gmps.episode` metadata record (e.g. task, operator). */
  episode?: Record<string, string>;
  /** Offered messages waiting for the disk beyond this many bytes are dropped (and counted). Default 512 MiB. */
  maxQueueBytes?: number;
  /** fdatasync at most this often (ms); 0 disables. Default 1000. */
  syncIntervalMs?: number;
}

export interface RecorderStats {
  offered: number;
  written: number;
  dropped: number;
  bytesWritten: number;
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Offer → written into the file's current chunk, ms. */
  latencyMs: { p50: number; p99: number; max: number };
}

export interface RecordingSummary extends RecorderStats {
  path: string;
  messageCount: number;
  perTopic: Record<string, number>;
  startNs: bigint;
  endNs: bigint;
}

export class RecorderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecorderError';
  }
}

/** FileHandleWritable plus a bounded-rate fdatasync after writes. */
class SyncingWritable implements IWritable {
  private readonly inner: FileHandleWritable;
  private lastSync = Date.now();
  constructor(private readonly handle: FileHandle, private readonly syncIntervalMs: number) {
    this.inner = new FileHandleWritable(handle);
  }
  async write(buffer: Uint8Array): Promise<void> {
    await this.inner.write(buffer);
    if (this.syncIntervalMs > 0 && Date.now() - this.lastSync >= this.syncIntervalMs) {
      this.lastSync = Date.now();
      await this.handle.datasync();
    }
  }
  position(): bigint {
    return this.inner.position();
  }
}

interface ChannelInfo {
  id: number;
  topic: string;
  type: string;
  qosYaml: string;
  serializer: MessageWriter;
  definitions: MessageDefinition[];
  sequence: number;
  count: number;
}

function wallClockNs(): () => bigint {
  const originNs = BigInt(Date.now()) * 1_000_000n;
  const originHr = process.hrtime.bigint();
  return () => originNs + (process.hrtime.bigint() - originHr);
}

export class McapRecorder {
  private readonly channels = new Map<string, ChannelInfo>();
  private tail: Promise<void> = Promise.resolve();
  private failure?: Error;
  private closed = false;
  private lastLogNs = 0n;
  private firstLogNs?: bigint;
  private offered = 0;
  private written = 0;
  private dropped = 0;
  private queuedBytes = 0;
  private maxQueuedBytes = 0;
  private latencies: number[] = [];

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private readonly writable: SyncingWritable,
    private readonly writer: McapWriter,
    private readonly clockNs: () => bigint,
    private readonly distro: Ros2Distro,
    private readonly maxQueueBytes: number,
  ) {}

  static async open(options: McapRecorderOptions): Promise<McapRecorder> {
    if (options.topics.length === 0) throw new RecorderError('a recording needs at least one topic');
    const names = new Set<string>();
    for (const t of options.topics) {
      if (!t.topic.startsWith('/')) throw new RecorderError(`topic "${t.topic}" must be absolute (start with /)`);
      if (names.has(t.topic)) throw new RecorderError(`topic ${t.topic} is listed twice`);
      names.add(t.topic);
    }
    const distro = options.distro ?? 'humble';
    // Resolve every type before touching the disk, so a typo fails without leaving a file.
    const prepared = options.topics.map((t) => {
      const definitions = ros2Definitions(t.type, distro);
      return { ...t, type: fullTypeName(t.type), definitions, serializer: new MessageWriter(definitions), schema: ros2msgSchemaText(t.type, distro) };
    });
    const handle = await open(options.path, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new RecorderError(`${options.path} already exists: choose a new file name (recordings are never overwritten)`);
      throw err;
    });
    const writable = new SyncingWritable(handle, options.syncIntervalMs ?? 1000);
    const writer = new McapWriter({ writable, chunkSize: options.chunkSize ?? 1024 * 1024, useStatistics: true, useSummaryOffsets: true });
    const rec = new McapRecorder(options.path, handle, writable, writer, options.clockNs ?? wallClockNs(), distro,
      options.maxQueueBytes ?? 512 * 1024 * 1024);
    try {
      await writer.start({ profile: 'ros2', library: `gmps-recorder; ${LIBRARY_IDENTIFIER}` });
      const schemaIds = new Map<string, number>();
      for (const t of prepared) {
        let schemaId = schemaIds.get(t.type);
        if (schemaId === undefined) {
          schemaId = await writer.registerSchema({ name: t.type, encoding: 'ros2msg', data: new TextEncoder().encode(t.schema) });
          schemaIds.set(t.type, schemaId);
        }
        const qosYaml = offeredQosYaml(t.qos);
        const id = await writer.registerChannel({
          schemaId,
          topic: t.topic,
          messageEncoding: 'cdr',
          metadata: new Map([['offered_qos_profiles', qosYaml]]),
        });
        rec.channels.set(t.topic, { id, topic: t.topic, type: t.type, qosYaml, serializer: t.serializer, definitions: t.definitions, sequence: 0, count: 0 });
      }
      if (options.episode && Object.keys(options.episode).length > 0) {
        await writer.addMetadata({ name: EPISODE_METADATA, metadata: new Map(Object.entries(options.episode)) });
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    return rec;
  }

  /** Serializes `message` now and queues it; resolves once it is in the file's current chunk. */
  write(topic: string, message: unknown, opts: { publishTimeNs?: bigint } = {}): Promise<void> {
    const ch = this.channel(topic);
    const problem = checkMessageShape(ch.definitions, message);
    if (problem) return Promise.reject(new RecorderError(`message for ${topic} does not fit ${ch.type}: ${problem}`));
    let data: Uint8Array;
    try {
      data = ch.serializer.writeMessage(message);
    } catch (err) {
      return Promise.reject(new RecorderError(`message for ${topic} does not fit ${ch.type}: ${(err as Error).message}`));
    }
    return this.enqueue(ch, data, opts.publishTimeNs);
  }

  /** Queues an already CDR-serialized message (e.g. from a raw ROS 2 subscription). */
  writeCdr(topic: string, data: Uint8Array, opts: { publishTimeNs?: bigint } = {}): Promise<void> {
    const ch = this.channel(topic);
    if (data.length < 4 || data[0] !== 0 || (data[1] !== 1 && data[1] !== 0)) {
      return Promise.reject(new RecorderError(`CDR data for ${topic} lacks the 4-byte encapsulation header`));
    }
    return this.enqueue(ch, data.slice(), opts.publishTimeNs);
  }

  addMetadata(name: string, metadata: Record<string, string>): Promise<void> {
    if (this.closed) return Promise.reject(new RecorderError('the recording is closed'));
    return this.run(() => this.writer.addMetadata({ name, metadata: new Map(Object.entries(metadata)) }));
  }

  stats(): RecorderStats {
    const sorted = Float64Array.from(this.latencies).sort();
    const q = (p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
    return {
      offered: this.offered,
      written: this.written,
      dropped: this.dropped,
      bytesWritten: Number(this.writable.position()),
      queuedBytes: this.queuedBytes,
      maxQueuedBytes: this.maxQueuedBytes,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: sorted.length ? sorted[sorted.length - 1]! : 0 },
    };
  }

  /** Writes the result metadata, the rosbag2 metadata, the summary and footer, and closes the file. */
  async close(result: Record<string, string> = {}): Promise<RecordingSummary> {
    if (this.closed) throw new RecorderError('the recording is already closed');
    this.closed = true;
    try {
      await this.tail;
      if (this.failure) throw this.failure;
      if (Object.keys(result).length > 0) {
        await this.writer.addMetadata({ name: EPISODE_RESULT_METADATA, metadata: new Map(Object.entries(result)) });
      }
      const startNs = this.firstLogNs ?? 0n;
      const endNs = this.lastLogNs;
      const perTopic: Record<string, number> = {};
      let messageCount = 0;
      for (const ch of this.channels.values()) {
        perTopic[ch.topic] = ch.count;
        messageCount += ch.count;
      }
      const serialized = serializedBagMetadata({
        fileName: basename(this.path),
        startNs,
        durationNs: endNs - startNs,
        messageCount,
        topics: [...this.channels.values()].map((c) => ({ name: c.topic, type: c.type, qosYaml: c.qosYaml, messageCount: c.count })),
        distro: this.distro,
      });
      await this.writer.addMetadata({ name: ROSBAG2_METADATA, metadata: new Map([['serialized_metadata', serialized]]) });
      await this.writer.end();
      await this.handle.datasync();
      return { path: this.path, messageCount, perTopic, startNs, endNs, ...this.stats() };
    } finally {
      await this.handle.close();
    }
  }

  private channel(topic: string): ChannelInfo {
    if (this.closed) throw new RecorderError('the recording is closed');
    const ch = this.channels.get(topic);
    if (!ch) throw new RecorderError(`topic ${topic} is not part of this recording (has ${[...this.channels.keys()].join(', ')})`);
    return ch;
  }

  private enqueue(ch: ChannelInfo, data: Uint8Array, publishTimeNs?: bigint): Promise<void> {
    this.offered++;
    if (this.failure) return Promise.reject(this.failure);
    if (this.queuedBytes + data.length > this.maxQueueBytes) {
      this.dropped++;
      return Promise.reject(new RecorderError(
        `recorder queue full (${this.queuedBytes} bytes waiting for the disk): ${ch.topic} message dropped (${this.dropped} so far)`));
    }
    let logTime = this.clockNs();
    if (logTime < this.lastLogNs) logTime = this.lastLogNs; // log time never goes backwards within a file
    this.lastLogNs = logTime;
    this.firstLogNs ??= logTime;
    const sequence = ch.sequence++;
    const offeredAt = performance.now();
    this.queuedBytes += data.length;
    this.maxQueuedBytes = Math.max(this.maxQueuedBytes, this.queuedBytes);
    return this.run(async () => {
      try {
        await this.writer.addMessage({ channelId: ch.id, sequence, logTime, publishTime: publishTimeNs ?? logTime, data });
      } finally {
        this.queuedBytes -= data.length;
      }
      ch.count++;
      this.written++;
      this.latencies.push(performance.now() - offeredAt);
    });
  }

  private run(op: () => Promise<void>): Promise<void> {
    const next = this.tail.then(async () => {
      if (this.failure) throw this.failure;
      try {
        await op();
      } catch (err) {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        throw this.failure;
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }
}
