/**
 * Parsing the head of an HTTP/1.x response (status line and headers) for the lean range-GET
 * client (range-get-connection.ts), and the chunked bodies of its error answers. Strict on what
 * framing depends on: one Content-Length, Transfer-Encoding noticed, keep-alive only on HTTP/1.1
 * without `Connection: close`.
 */

export interface ResponseHead {
  statusCode: number;
  reason: string;
  /** Lower-case names; repeated headers joined with ", " (as node's http client does). */
  headers: Record<string, string>;
  contentLength?: number;
  chunked: boolean;
  keepAlive: boolean;
  /** Bytes of the head, final empty line included. */
  headLength: number;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/** The head at the start of `data`, "incomplete" until its empty line arrived, or what is wrong. */
export function parseResponseHead(data: Buffer): ResponseHead | Error | "incomplete" {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return "incomplete";
  const lines = data.toString("latin1", 0, end).split("\r\n");
  const status = STATUS_LINE.exec(lines[0] ?? "");
  if (!status) return new Error(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`);
  const statusCode = Number(status[2]);
  if (statusCode < 200) return new Error(`unexpected informational response ${statusCode}`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) return new Error(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let contentLength: number | undefined;
  if (headers["content-length"] !== undefined) {
    const raw = headers["content-length"];
    if (!/^\d+$/.test(raw)) return new Error(`bad Content-Length ${JSON.stringify(raw)}`);
    contentLength = Number(raw);
    if (!Number.isSafeInteger(contentLength)) return new Error(`Content-Length too large: ${raw}`);
  }
  const te = headers["transfer-encoding"];
  const chunked = te !== undefined;
  if (chunked && !/(^|,)\s*chunked\s*$/i.test(te)) return new Error(`unsupported Transfer-Encoding ${te}`);
  // With chunked framing a Content-Length is meaningless (RFC 9112 §6.3): ignore it.
  if (chunked) contentLength = undefined;
  const connection = (headers.connection ?? "").toLowerCase();
  const keepAlive = status[1] === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { statusCode, reason: status[3] ?? "", headers, contentLength, chunked, keepAlive, headLength: end + 4 };
}

/** A whole chunked body, or "incomplete". Only for (small) error answers. */
export function decodeChunked(data: Buffer): Buffer | Error | "incomplete" {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", pos);
    if (eol < 0) return "incomplete";
    const size = Number.parseInt(data.toString("latin1", pos, eol).split(";")[0]!, 16);
    if (!Number.isSafeInteger(size) || size < 0) return new Error("bad chunk size in chunked body");
    // The last chunk, then optional trailers, then an empty line.
    if (size === 0) return data.indexOf("\r\n\r\n", eol) >= 0 ? Buffer.concat(parts) : "incomplete";
    if (data.length < eol + 2 + size + 2) return "incomplete";
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}
