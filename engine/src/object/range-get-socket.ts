/**
 * The socket under a lean range-GET connection: TCP, or TLS with SNI (unless the host is an IP
 * address), that reads into buffers its owner chooses (`onread`), with Nagle off and TCP
 * keep-alive probes on.
 */
import net from "node:net";
import tls from "node:tls";
import type { Endpoint } from "./range-get-types.js";

export interface SocketReads {
  /** The buffer the next read goes into. */
  buffer: () => Buffer;
  /** `n` bytes were read into `buf`; false pauses reading. */
  callback: (n: number, buf: Buffer) => boolean;
}

export function openRangeSocket(endpoint: Endpoint, onread: SocketReads): net.Socket {
  const base = { host: endpoint.host, port: endpoint.port, onread, noDelay: true };
  const socket =
    endpoint.protocol === "https:"
      ? tls.connect({ servername: net.isIP(endpoint.host) ? undefined : endpoint.host, ...endpoint.tls, ...base })
      : net.connect(base);
  socket.setKeepAlive(true, 1000);
  return socket;
}

/** The event that says the socket can carry a request (a TLS socket's "connect" comes before its handshake). */
export function readyEventOf(socket: net.Socket): "connect" | "secureConnect" {
  return socket instanceof tls.TLSSocket ? "secureConnect" : "connect";
}
