// A scripted peer's session with a broker, for the programs that play a peer inside a lab
// namespace (the fuzzing peer, loadtest/fuzz/fuzz-peer.ts, and the tests' fake peer,
// test/fixtures/fake-peer.ts): it dials with the given certificates, sends the real HELLO
// once TLS is up, decodes what the broker sends and ends when the broker closes, the
// script says it is done, or the wait runs out. What to send after the broker's hello,
// and what to report, is the script's.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { ALPN_PROTOCOL, MAX_FRAME_PAYLOAD, NO_CAPABILITIES, PROTOCOL_VERSION, encodeHello } from '../../src/shared/wire.js';
import { FrameBatcher, FrameDecoder } from '../../src/shared/frame-codec.js';

/** The parseArgs options naming the broker and the certificates, common to every scripted peer. */
export const PEER_CONNECTION_OPTIONS = {
  host: { type: 'string' }, port: { type: 'string' }, servername: { type: 'string' },
  cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
} as const;

/** The values of PEER_CONNECTION_OPTIONS as parseArgs returns them (file paths for the PEM files). */
export interface PeerConnection {
  host?: string;
  port?: string;
  servername?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

export interface PeerSession {
  readonly socket: tls.TLSSocket;
  /** Writes the control frame of `length` bytes at the start of `control`, framed. */
  sendControl(control: Buffer, length: number): void;
  /** Ends the session: the script has what it waited for. */
  done(): void;
}

export interface PeerScript {
  /** The cluster address the HELLO claims. */
  clusterAddress: number;
  /** The session ends after this long unless the broker closes or the script is done first. */
  waitMs: number;
  /** After the TLS handshake, before the HELLO goes out. */
  onSecureConnect?(session: PeerSession): void;
  /** Each control frame the broker sends (its HELLO first); IP frames are ignored. */
  onControl(session: PeerSession, buf: Uint8Array, offset: number, length: number): void;
}

export interface PeerSessionEnd {
  closedByPeer: boolean;
  /** The socket's last error, if any (a refused handshake shows here). */
  error?: string;
}

/** Runs `script` against the broker `connection` names; resolves when the session ends. */
export async function runPeerSession(connection: PeerConnection, script: PeerScript): Promise<PeerSessionEnd> {
  const end: PeerSessionEnd = { closedByPeer: false };
  const socket = tls.connect({
    host: connection.host!, port: Number(connection.port), servername: connection.servername,
    cert: readFileSync(connection.cert!), key: readFileSync(connection.key!), ca: readFileSync(connection.ca!),
    ALPNProtocols: [ALPN_PROTOCOL], minVersion: 'TLSv1.2',
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, script.waitMs);
    const session: PeerSession = {
      socket,
      sendControl: (control, length) => {
        const batcher = new FrameBatcher();
        batcher.append(control, 0, length);
        socket.write(batcher.take()!);
      },
      done: () => {
        clearTimeout(timer);
        resolve();
      },
    };
    const decoder = new FrameDecoder({ maxFramePayload: MAX_FRAME_PAYLOAD }, {
      onIpPacket: () => undefined,
      onMalformed: () => undefined,
      onControl: (buf, offset, length) => script.onControl(session, buf, offset, length),
    });
    socket.on('secureConnect', () => {
      script.onSecureConnect?.(session);
      const hello = Buffer.alloc(64);
      session.sendControl(hello, encodeHello(hello, 0, { version: PROTOCOL_VERSION, capabilities: NO_CAPABILITIES, clusterAddress: script.clusterAddress, maxFramePayload: MAX_FRAME_PAYLOAD }));
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', (err) => { end.error = err.message; });
    socket.on('close', () => {
      end.closedByPeer = true;
      session.done();
    });
  });
  const result = { ...end }; // as it ended: our own destroy() below is no close by the peer
  socket.destroy();
  return result;
}

/**
 * Runs `main` when `moduleUrl` is the process's entry script (a test runner merely
 * importing the file runs nothing) and prints its report as one JSON line; a throw prints
 * `failed(message)` instead and sets `exitCode`.
 */
export function runAsPeerProgram(moduleUrl: string, main: () => Promise<object>, failed: (error: string) => object, exitCode = 1): void {
  if (!process.argv[1] || !moduleUrl.endsWith(process.argv[1].split('/').pop()!)) return;
  main().then(
    (report) => process.stdout.write(JSON.stringify(report) + '\n'),
    (err: unknown) => {
      process.stdout.write(JSON.stringify(failed(String(err))) + '\n');
      process.exitCode = exitCode;
    },
  );
}
