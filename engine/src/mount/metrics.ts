/** Prometheus metrics of a mount (`--metrics HOST:PORT`), read from the data path at scrape time. */
import { createServer, type Server } from "node:http";
import { Gauge, Registry } from "prom-client";
import type { DataPath } from "../data/data-path.js";

export async function startMetrics(
  listen: string,
  data: DataPath,
): Promise<{ address: string; close(): Promise<void> }> {
  const registry = new Registry();
  const gauge = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read() ?? 0);
      },
    });
  const s = () => data.stats();
  gauge("filespace_memory_cache_hits", "blocks served from the memory cache", () => s().memory.hits);
  gauge("filespace_memory_cache_misses", "blocks not in the memory cache", () => s().memory.misses);
  gauge("filespace_disk_cache_bytes", "bytes in the disk cache", () => s().disk?.bytes);
  gauge("filespace_disk_cache_max_bytes", "disk cache bound", () => s().disk?.maxBytes);
  gauge("filespace_disk_cache_hits", "blocks served from the disk cache", () => s().disk?.hits);
  gauge("filespace_store_bytes_fetched", "bytes read from the object store (egress)", () => s().fetch.getBytes);
  gauge("filespace_store_requests", "range GETs sent to the object store", () => s().fetch.gets);
  gauge("filespace_upload_backlog_bytes", "write-back bytes not yet committed", () => s().writeBack.backlogBytes);
  gauge("filespace_uploaded_bytes", "bytes uploaded by write-back", () => s().writeBack.uploadedBytes);
  gauge("filespace_prefetch_bytes_issued", "bytes requested by prefetch", () => s().prefetch.bytesIssued);
  const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host.replace(/^\[|\]$/g, ""), () => resolve());
  });
  const addr = server.address();
  const address = typeof addr === "object" && addr ? `${host}:${addr.port}` : listen;
  return { address, close: () => new Promise((r) => server.close(() => r())) };
}
