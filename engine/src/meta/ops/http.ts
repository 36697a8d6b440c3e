/**
 * Operations endpoint of a metadata service: `/healthz` (the process is alive and not failed),
 * `/readyz` (recovered, lease held, accepting calls — what a Kubernetes readiness probe and a
 * Service should route on), `/metrics` (Prometheus text). Plain node:http, no framework.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface ProbeState {
  ok: boolean;
  /** Why not (shown in the probe body). */
  reason?: string;
}

export interface OpsServerOptions {
  /** "host:port"; port 0 picks a free one. */
  listen: string;
  health: () => ProbeState;
  ready: () => ProbeState;
  registry: Registry;
}

export class OpsServer {
  readonly #server: Server;
  readonly address: string;

  private constructor(server: Server, address: string) {
    this.#server = server;
    this.address = address;
  }

  static async start(options: OpsServerOptions): Promise<OpsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const probe = (state: ProbeState) => {
        res.writeHead(state.ok ? 200 : 503, { "content-type": "text/plain" });
        res.end(state.ok ? "ok\n" : `not ok: ${state.reason ?? "unknown"}\n`);
      };
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
      } else if (path === "/healthz") {
        probe(options.health());
      } else if (path === "/readyz") {
        probe(options.ready());
      } else if (path === "/metrics") {
        options.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text),
          (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
        );
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz, /readyz, /metrics\n");
      }
    });
    const colon = options.listen.lastIndexOf(":");
    const host = options.listen.slice(0, colon);
    const port = Number(options.listen.slice(colon + 1));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address() as AddressInfo;
    return new OpsServer(server, `${host}:${bound.port}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
