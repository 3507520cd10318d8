/**
 * Reads recorded episodes (ours or `ros2 bag record`'s MCAP) back as typed messages.
 *
 * A complete file is read through its index (`McapIndexedReader`, messages in log-time order).
 * A file without summary/footer, as a killed recorder leaves it, is recovered by scanning its
 * records sequentially (`McapStreamReader`): every complete chunk is returned and the file is
 * reported `truncated` with a note saying where it ends. Data that is not MCAP, or a record that
 * fails its checks, raises `McapFormatError` naming the file and the byte offset.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { McapIndexedReader, McapStreamReader, MCAP_MAGIC, type TypedMcapRecords } from '@mcap/core';
import { FileHandleReadable } from '@mcap/nodejs';
import type { MessageDefinition } from '@foxglove/message-definition';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { parseRos2msgSchema } from './ros2-types.js';

export class McapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'McapFormatError';
  }
}

export interface McapTopicInfo {
  topic: string;
  type: string;
  messageEncoding: string;
  messageCount: number;
  qosYaml?: string;
}

export interface McapFileInfo {
  path: string;
  profile: string;
  library: string;
  /** The file lacks its summary/footer (recorder killed): messages up to the last complete chunk are readable. */
  truncated: boolean;
  note?: string;
  hasStatistics: boolean;
  topics: McapTopicInfo[];
  /** Metadata records by name (records with the same name merged, later keys win). */
  metadata: Record<string, Record<string, string>>;
  messageCount: number;
  startNs: bigint;
  endNs: bigint;
  chunkCount: number;
}

export interface DecodedMessage<T = unknown> {
  topic: string;
  type: string;
  logTimeNs: bigint;
  publishTimeNs: bigint;
  sequence: number;
  message: T;
}

type Channel = TypedMcapRecords['Channel'];
type Schema = TypedMcapRecords['Schema'];

const READ_BLOCK = 4 * 1024 * 1024;

function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MCAP_MAGIC.length && MCAP_MAGIC.every((b, i) => bytes[i] === b);
}

export class McapEpisodeReader {
  private readonly decoders = new Map<number, MessageReader>();

  private constructor(
    readonly info: McapFileInfo,
    private readonly handle: FileHandle,
    private readonly indexed: McapIndexedReader | undefined,
    private readonly channels: ReadonlyMap<number, Channel>,
    private readonly schemas: ReadonlyMap<number, Schema>,
  ) {}

  static async open(path: string): Promise<McapEpisodeReader> {
    const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      throw new McapFormatError(`cannot open ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    try {
      const head = new Uint8Array(MCAP_MAGIC.length);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      if (bytesRead < head.length || !hasMagic(head)) {
        throw new McapFormatError(`${path} is not an MCAP file (it does not start with the MCAP magic bytes)`);
      }
      let indexed: McapIndexedReader | undefined;
      try {
        indexed = await McapIndexedReader.Initialize({ readable: new FileHandleReadable(handle) });
      } catch {
        indexed = undefined;
      }
      if (indexed) return new McapEpisodeReader(await indexedInfo(path, indexed), handle, indexed, indexed.channelsById, indexed.schemasById);
      const scan = await scanSequentially(path, handle);
      return new McapEpisodeReader(scan.info, handle, undefined, scan.channels, scan.schemas);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** Decoded messages, in log-time order (complete files) or file order (recovered files). */
  async *messages<T = unknown>(options: { topics?: readonly string[] } = {}): AsyncGenerator<DecodedMessage<T>> {
    const wanted = options.topics ? new Set(options.topics) : undefined;
    if (wanted) {
      const known = new Set(this.info.topics.map((t) => t.topic));
      for (const t of wanted) {
        if (!known.has(t)) throw new McapFormatError(`${this.info.path} has no topic ${t} (topics: ${[...known].join(', ') || 'none'})`);
      }
    }
    if (this.indexed) {
      try {
        for await (const m of this.indexed.readMessages({ topics: options.topics })) yield this.decode<T>(m);
      } catch (err) {
        if (err instanceof McapFormatError) throw err;
        throw new McapFormatError(`${this.info.path}: cannot read messages: ${(err as Error).message}`);
      }
      return;
    }
    for await (const rec of streamRecords(this.info.path, this.handle)) {
      if (rec.type !== 'Message') continue;
      const ch = this.channels.get(rec.channelId);
      if (wanted && (!ch || !wanted.has(ch.topic))) continue;
      yield this.decode<T>(rec);
    }
  }

  private decode<T>(m: TypedMcapRecords['Message']): DecodedMessage<T> {
    const ch = this.channels.get(m.channelId);
    if (!ch) throw new McapFormatError(`${this.info.path}: message on unknown channel ${m.channelId}`);
    const schema = this.schemas.get(ch.schemaId);
    let reader = this.decoders.get(ch.id);
    if (!reader) {
      if (ch.messageEncoding !== 'cdr') {
        throw new McapFormatError(`${this.info.path}: topic ${ch.topic} is encoded as ${ch.messageEncoding}; only cdr (ROS 2) is supported`);
      }
      if (!schema || (schema.encoding !== 'ros2msg' && schema.encoding !== '')) {
        throw new McapFormatError(`${this.info.path}: topic ${ch.topic} has schema encoding ${schema?.encoding ?? 'none'}; only ros2msg is supported`);
      }
      let defs: MessageDefinition[];
      try {
        defs = parseRos2msgSchema(schema.name, new TextDecoder().decode(schema.data));
      } catch (err) {
        throw new McapFormatError(`${this.info.path}: schema ${schema.name} of ${ch.topic} does not parse: ${(err as Error).message}`);
      }
      reader = new MessageReader(defs);
      this.decoders.set(ch.id, reader);
    }
    let message: T;
    try {
      message = reader.readMessage<T>(m.data);
    } catch (err) {
      throw new McapFormatError(`${this.info.path}: message ${m.sequence} on ${ch.topic} at log time ${m.logTime} ns does not decode as ${schema?.name}: ${(err as Error).message}`);
    }
    return { topic: ch.topic, type: schema?.name ?? '', logTimeNs: m.logTime, publishTimeNs: m.publishTime, sequence: m.sequence, message };
  }
}

export async function readMcapInfo(path: string): Promise<McapFileInfo> {
  const r = await McapEpisodeReader.open(path);
  await r.close();
  return r.info;
}

function mergeMetadata(target: Record<string, Record<string, string>>, rec: TypedMcapRecords['Metadata']): void {
  target[rec.name] = { ...(target[rec.name] ?? {}), ...Object.fromEntries(rec.metadata) };
}

function topicInfos(channels: ReadonlyMap<number, Channel>, schemas: ReadonlyMap<number, Schema>, counts: Map<number, bigint | number>): McapTopicInfo[] {
  return [...channels.values()].map((c) => ({
    topic: c.topic,
    type: schemas.get(c.schemaId)?.name ?? '',
    messageEncoding: c.messageEncoding,
    messageCount: Number(counts.get(c.id) ?? 0),
    qosYaml: c.metadata.get('offered_qos_profiles'),
  }));
}

async function indexedInfo(path: string, r: McapIndexedReader): Promise<McapFileInfo> {
  const metadata: Record<string, Record<string, string>> = {};
  for await (const rec of r.readMetadata()) mergeMetadata(metadata, rec);
  const st = r.statistics;
  return {
    path,
    profile: r.header.profile,
    library: r.header.library,
    truncated: false,
    hasStatistics: st !== undefined,
    topics: topicInfos(r.channelsById, r.schemasById, st?.channelMessageCounts ?? new Map()),
    metadata,
    messageCount: Number(st?.messageCount ?? 0),
    startNs: st?.messageStartTime ?? 0n,
    endNs: st?.messageEndTime ?? 0n,
    chunkCount: st?.chunkCount ?? r.chunkIndexes.length,
  };
}

interface StreamEnd {
  complete: boolean;
  endOffset: number;
  leftover: number;
}

/** Every record of the file in order; records the outcome in `end` when done. */
async function* streamRecords(path: string, handle: FileHandle, end?: StreamEnd): AsyncGenerator<TypedMcapRecords[keyof TypedMcapRecords]> {
  const reader = new McapStreamReader({ validateCrcs: true, includeChunks: true });
  const buf = new Uint8Array(READ_BLOCK);
  let offset = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
    reader.append(buf.subarray(0, bytesRead));
    for (;;) {
      let rec;
      try {
        rec = reader.nextRecord();
      } catch (err) {
        throw new McapFormatError(`${path} is corrupt near byte ${offset - reader.bytesRemaining()}: ${(err as Error).message}`);
      }
      if (!rec) break;
      yield rec;
    }
  }
  if (end) {
    end.complete = reader.done();
    end.leftover = reader.bytesRemaining();
    end.endOffset = offset - end.leftover;
  }
}

async function scanSequentially(path: string, handle: FileHandle): Promise<{ info: McapFileInfo; channels: Map<number, Channel>; schemas: Map<number, Schema> }> {
  const channels = new Map<number, Channel>();
  const schemas = new Map<number, Schema>();
  const counts = new Map<number, number>();
  const metadata: Record<string, Record<string, string>> = {};
  let header: TypedMcapRecords['Header'] | undefined;
  let hasStatistics = false;
  let startNs: bigint | undefined;
  let endNs = 0n;
  let messageCount = 0;
  let chunkCount = 0;
  const end: StreamEnd = { complete: false, endOffset: 0, leftover: 0 };
  for await (const rec of streamRecords(path, handle, end)) {
    switch (rec.type) {
      case 'Header': header = rec; break;
      case 'Schema': schemas.set(rec.id, rec); break;
      case 'Channel': channels.set(rec.id, rec); break;
      case 'Metadata': mergeMetadata(metadata, rec); break;
      case 'Statistics': hasStatistics = true; break;
      case 'Message':
        messageCount++;
        counts.set(rec.channelId, (counts.get(rec.channelId) ?? 0) + 1);
        if (startNs === undefined || rec.logTime < startNs) startNs = rec.logTime;
        if (rec.logTime > endNs) endNs = rec.logTime;
        break;
      case 'Chunk': chunkCount++; break;
      default: break;
    }
  }
  if (!header) throw new McapFormatError(`${path} ends before its MCAP header: the recording holds no data`);
  const truncated = !end.complete;
  const note = truncated
    ? `file is truncated (no summary/footer: the recorder stopped without closing it); recovered ${messageCount} messages ` +
      `from complete chunks up to byte ${end.endOffset}${end.leftover > 0 ? `, ignored an incomplete last record of ${end.leftover} bytes` : ''}`
    : 'file has a footer but no usable index; read sequentially';
  return {
    info: {
      path,
      profile: header.profile,
      library: header.library,
      truncated,
      note,
      hasStatistics,
      topics: topicInfos(channels, schemas, counts),
      metadata,
      messageCount,
      startNs: startNs ?? 0n,
      endNs,
      chunkCount,
    },
    channels,
    schemas,
  };
}
