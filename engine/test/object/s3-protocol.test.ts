/**
 * What the s3 backend puts on the wire and how it reads answers that s3rver never gives
 * (412 on conditional writes, 503 SlowDown, 500, 416): a scripted HTTP endpoint records
 * each request and replies with what real S3 sends in that case.
 */
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ObjectNotFoundError,
  ObjectPreconditionFailedError,
  type ObjectStore,
  ObjectTransientError,
  openObjectStore,
} from "@filespaces/engine";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}
type Reply =
  | { status: number; code?: string; body?: string; headers?: Record<string, string> }
  | { hang: true }
  | { reset: true };

let server: Server;
let seen: Seen[] = [];
let replies: Reply[] = [];
let endpoint: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      const reply = replies.shift() ?? { status: 200 };
      if ("hang" in reply) return; // never answer: the client's request timeout must fire
      if ("reset" in reply) return req.socket.destroy();
      const body =
        reply.body ??
        (reply.code ? `<?xml version="1.0"?><Error><Code>${reply.code}</Code><Message>m</Message></Error>` : "");
      res.writeHead(reply.status, { "content-type": "application/xml", etag: '"e1"', ...reply.headers });
      res.end(req.method === "HEAD" ? undefined : body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
  replies = [];
});

const open = (query = "", requestTimeoutMs?: number): Promise<ObjectStore> =>
  openObjectStore(`s3://bucket/pre?endpoint=${encodeURIComponent(endpoint)}${query}`, {
    s3: { accessKeyId: "a", secretAccessKey: "b" },
    retry: false,
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
  });

describe("s3 backend on the wire", () => {
  it("sends If-None-Match / If-Match only when conditionalPut is declared, and maps 412", async () => {
    const store = await open("&conditionalPut=true");
    await store.put("k", Buffer.from("x"), { ifNoneMatch: "*" });
    await store.put("k", Buffer.from("y"), { ifMatch: "e1" });
    expect(seen[0]?.headers["if-none-match"]).toBe("*");
    expect(seen[1]?.headers["if-match"]).toBe('"e1"');
    expect(seen[0]?.url).toMatch(/^\/bucket\/pre\/k/); // path style + prefix
    replies.push({ status: 412, code: "PreconditionFailed" });
    await expect(store.put("k", Buffer.from("z"), { ifNoneMatch: "*" })).rejects.toBeInstanceOf(
      ObjectPreconditionFailedError,
    );
    await store.close();
  });

  it("asks for ranges as bytes=a-b and returns an empty body on 416", async () => {
    const store = await open();
    replies.push({ status: 206, body: "abc", headers: { "content-range": "bytes 5-7/8", "content-length": "3" } });
    expect((await store.get("k", { range: { offset: 5, length: 10 } })).toString()).toBe("abc");
    expect(seen[0]?.headers.range).toBe("bytes=5-14");
    replies.push({ status: 416, code: "InvalidRange" }); // a chunked error body
    expect((await store.get("k", { range: { offset: 8, length: 4 } })).length).toBe(0);
    expect(seen.length).toBe(2);
    await store.close();
  });

  it("a ranged GET answered without Content-Length (chunked) is sent again through the SDK's handler", async () => {
    const store = await open();
    const chunked = { status: 206, body: "abc", headers: { "content-range": "bytes 5-7/8" } };
    replies.push(chunked, chunked);
    expect((await store.get("k", { range: { offset: 5, length: 3 } })).toString()).toBe("abc");
    expect(seen.map((s) => s.headers.range)).toEqual(["bytes=5-7", "bytes=5-7"]);
    await store.close();
  });

  it("maps a ranged GET's 503 SlowDown, 500 and 404 as the SDK path does (lean client)", async () => {
    const store = await open();
    const ranged = () => store.get("k", { range: { offset: 0, length: 3 } }).catch((e) => e);
    replies.push({ status: 503, code: "SlowDown" });
    const slow = await ranged();
    expect(slow).toBeInstanceOf(ObjectTransientError);
    expect(slow.throttled).toBe(true);
    replies.push({ status: 500, code: "InternalError" });
    expect(await ranged()).toBeInstanceOf(ObjectTransientError);
    replies.push({ status: 404, code: "NoSuchKey" });
    expect(await ranged()).toBeInstanceOf(ObjectNotFoundError);
    expect(seen.length).toBe(3);
    await store.close();
  });

  it("signs its own ranged GETs with SigV4 as AWS specifies (checked here, independently of the SDK)", async () => {
    const store = await open();
    replies.push({ status: 206, body: "abc", headers: { "content-length": "3" } });
    expect((await store.get("dir/a b+c(1).bin", { range: { offset: 5, length: 3 } })).toString()).toBe("abc");
    replies.push({ status: 200, headers: { "content-length": "9" } });
    await store.head("k"); // through the SDK: proves the checker agrees with the SDK's signer
    expect(seen.map((r) => r.method)).toEqual(["GET", "HEAD"]);
    expect(seen[0]?.url).toBe("/bucket/pre/dir/a%20b%2Bc%281%29.bin");
    for (const r of seen) expect(sigV4Problem(r, "a", "b")).toBeUndefined();
    expect(sigV4Problem(seen[0]!, "a", "not-the-secret")).toMatch(/signature/);
    expect((store as unknown as { leanStats: { direct: number } }).leanStats.direct).toBe(1);
    await store.close();
  });

  it("maps 404, 503 SlowDown, 500 and 403 to the right errors", async () => {
    const store = await open();
    replies.push({ status: 404, code: "NoSuchKey" });
    await expect(store.get("k")).rejects.toBeInstanceOf(ObjectNotFoundError);
    replies.push({ status: 404 });
    await expect(store.head("k")).rejects.toBeInstanceOf(ObjectNotFoundError);
    replies.push({ status: 503, code: "SlowDown" });
    const slow = await store.get("k").catch((e) => e);
    expect(slow).toBeInstanceOf(ObjectTransientError);
    expect(slow.throttled).toBe(true);
    replies.push({ status: 500, code: "InternalError" });
    const internal = await store.put("k", Buffer.from("x")).catch((e) => e);
    expect(internal).toBeInstanceOf(ObjectTransientError);
    expect(internal.throttled).toBe(false);
    replies.push({ status: 403, code: "AccessDenied" });
    const denied = await store.get("k").catch((e) => e);
    expect(denied.name).toBe("ObjectStoreError");
    expect(denied.message).toMatch(/AccessDenied/);
    expect(seen).toHaveLength(5); // one request each: the SDK does not retry
    await store.close();
  });

  it("maps a request timeout and a connection reset to transient errors", async () => {
    const store = await open("", 300);
    replies.push({ hang: true });
    const started = Date.now();
    const timedOut = await store.get("k").catch((e) => e);
    expect(timedOut).toBeInstanceOf(ObjectTransientError);
    expect(Date.now() - started).toBeLessThan(5_000);
    replies.push({ reset: true });
    await expect(store.head("k")).rejects.toBeInstanceOf(ObjectTransientError);
    await store.close();
  });
});

/**
 * Checks a request's AWS Signature Version 4 (header form) from first principles: canonical
 * request, string to sign, the HMAC key chain. Returns what is wrong, or undefined.
 */
function sigV4Problem(r: Seen, accessKeyId: string, secret: string): string | undefined {
  const auth = String(r.headers.authorization ?? "");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return `authorization header: ${auth}`;
  const [, akid, day, region, signedHeaders, signature] = m;
  if (akid !== accessKeyId) return `access key ${akid}`;
  const amzDate = String(r.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(day!)) return `x-amz-date ${amzDate} outside ${day}`;
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) return `signed headers ${signedHeaders}`;
  const [path, query = ""] = r.url.split("?");
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .map((kv) => (kv.includes("=") ? kv : `${kv}=`))
    .sort()
    .join("&");
  const headers = names
    .map(
      (n) =>
        `${n}:${String(r.headers[n] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const payload = String(r.headers["x-amz-content-sha256"] ?? "");
  const canonical = [r.method, path, canonicalQuery, headers, signedHeaders, payload].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [day!, region!, "s3", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  return expected === signature ? undefined : `signature ${signature} != ${expected}`;
}
