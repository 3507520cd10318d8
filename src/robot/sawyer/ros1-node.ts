/**
 * A ROS 1 node in Node.js over `@foxglove/ros1`, with the two details a real-time command link
 * needs: TCP_NODELAY on every socket (ROS 1 only asks for it from the subscriber side) and an
 * orderly shutdown that unregisters from the master before closing the sockets.
 */
import net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { RosNode } from '@foxglove/ros1';
import type { TcpAddress, TcpServer, TcpServerEvents, TcpSocket } from '@foxglove/ros1';
import { TcpSocketNode } from '@foxglove/ros1/nodejs';
import { HttpServerNodejs } from '@foxglove/xmlrpc/nodejs';

/** A socket that keeps Nagle's algorithm off whatever the peer's connection header says. */
class NoDelaySocket extends TcpSocketNode {
  override async setNoDelay(): Promise<void> {
    await super.setNoDelay(true);
  }
}

class NoDelayTcpServer extends EventEmitter<TcpServerEvents> implements TcpServer {
  constructor(private readonly server: net.Server) {
    super();
    server.on('close', () => this.emit('close'));
    server.on('error', (err) => this.emit('error', err));
    server.on('connection', (socket) => {
      socket.setNoDelay(true);
      if (socket.remoteAddress !== undefined && socket.remotePort !== undefined) {
        this.emit('connection', new NoDelaySocket(socket.remoteAddress, socket.remotePort, socket));
      }
    });
  }
  async address(): Promise<TcpAddress | undefined> {
    const a = this.server.address();
    return a === null || typeof a === 'string' ? undefined : a;
  }
  close(): void {
    this.server.close();
  }
  static listen(host: string): Promise<NoDelayTcpServer> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      server.once('error', reject);
      server.listen(0, host, () => {
        server.removeListener('error', reject);
        resolve(new NoDelayTcpServer(server));
      });
    });
  }
}

async function createNoDelaySocket(options: { host: string; port: number }): Promise<TcpSocket> {
  const socket = new net.Socket();
  socket.setNoDelay(true);
  return new NoDelaySocket(options.host, options.port, socket);
}

export interface Ros1NodeOptions {
  /** Node name, e.g. `/gmps_sawyer_link`. */
  name: string;
  /** `http://host:11311/` */
  masterUri: string;
  /** Address other nodes use to reach this one (ROS_IP / ROS_HOSTNAME); default 127.0.0.1. */
  hostname?: string;
  log?: { debug?: (...a: unknown[]) => void; info?: (...a: unknown[]) => void; warn?: (...a: unknown[]) => void };
}

export async function startRos1Node(options: Ros1NodeOptions): Promise<RosNode> {
  const hostname = options.hostname ?? '127.0.0.1';
  let url: URL;
  try {
    url = new URL(options.masterUri);
  } catch {
    throw new Error(`invalid ROS master URI "${options.masterUri}": expected e.g. http://sawyer.local:11311/`);
  }
  if (url.protocol !== 'http:') throw new Error(`ROS master URI must start with http:// (got ${options.masterUri})`);
  const tcpServer = await NoDelayTcpServer.listen(hostname);
  const node = new RosNode({
    name: options.name,
    hostname,
    pid: process.pid,
    rosMasterUri: options.masterUri,
    httpServer: new HttpServerNodejs(),
    tcpSocketCreate: createNoDelaySocket,
    tcpServer,
    log: options.log,
  });
  await node.start();
  return node;
}

/** Unregisters every publication and subscription (bounded wait), then closes the node. */
export async function stopRos1Node(node: RosNode, timeoutMs = 1000): Promise<void> {
  const api = node.rosFollower.url();
  const calls: Promise<unknown>[] = [];
  if (api) {
    for (const topic of node.publications.keys()) {
      calls.push(node.rosMasterClient.unregisterPublisher(node.name, topic, api).catch(() => undefined));
    }
    for (const topic of node.subscriptions.keys()) {
      calls.push(node.rosMasterClient.unregisterSubscriber(node.name, topic, api).catch(() => undefined));
    }
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(calls),
    new Promise((r) => {
      timer = setTimeout(r, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  node.shutdown();
}
