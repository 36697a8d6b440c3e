/**
 * The control socket server of a mount: one unix socket per mount, found from the mount point
 * (socket-path.ts). A stale socket left by a crashed mount is removed at start.
 */
import { existsSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { ControlAnswer, ParsedControlRequest } from "./control-protocol.js";
import { controlRequestSchema } from "./control-protocol.js";

/** Handles one request; `progress` streams intermediate lines (warm). */
export type ControlHandler = (req: ParsedControlRequest, progress: (o: object) => void) => Promise<ControlAnswer>;

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  static async start(path: string, handler: ControlHandler, log: (l: string) => void): Promise<ControlServer> {
    if (existsSync(path)) unlinkSync(path);
    const server = createServer((sock) => void serve(sock, handler, log));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => resolve());
    });
    return new ControlServer(path, server);
  }

  /** Stops accepting connections; requests in flight (an `unmount` itself) still get their answer. */
  async close(): Promise<void> {
    this.server.close();
    try {
      unlinkSync(this.path);
    } catch {}
  }
}

async function serve(sock: Socket, handler: ControlHandler, log: (l: string) => void): Promise<void> {
  sock.on("error", () => {});
  const send = (o: object) => {
    if (!sock.destroyed) sock.write(`${JSON.stringify(o)}\n`);
  };
  const lines = createInterface({ input: sock });
  for await (const line of lines) {
    let answer: ControlAnswer;
    try {
      const parsed = controlRequestSchema.safeParse(JSON.parse(line));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        answer = { ok: false, error: `bad request: ${issue?.path.join(".") || "op"}: ${issue?.message}` };
      } else {
        answer = await handler(parsed.data, (p) => send({ progress: p }));
      }
    } catch (err) {
      log(`control request failed: ${(err as Error).message}`);
      answer = { ok: false, error: (err as Error).message, code: (err as { code?: string }).code ?? "" };
    }
    send(answer);
    sock.end();
    break;
  }
}
