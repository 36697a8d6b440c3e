/**
 * A fetch worker: GETs runs of sealed blocks and opens them off the main thread (see pool.ts).
 * It reopens the filespace's store from its URL (credentials come from the inherited
 * environment) and holds the filespace keys to open blocks; nothing else of the mount.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ChunkCodec } from "../../crypto/chunk.js";
import { Keyring } from "../../crypto/keyring.js";
import { openObjectStore } from "../../object/url.js";
import { type FetchedRun, LocalRunSource } from "../run-source.js";
import { type FromWorker, type ToWorker, toWire, type WireBlock, type WorkerSetup } from "./messages.js";

const port = parentPort!;
const setup = workerData as WorkerSetup;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/**
 * Opened blocks wait here until the end of the event-loop turn and go in one message: a turn
 * often opens several blocks (socket reads of several GETs), and a message costs as much as
 * opening a block. No added latency: the flush runs right after the I/O that opened them.
 */
const batch: { blocks: WireBlock[]; transfer: ArrayBuffer[]; scheduled: boolean } = {
  blocks: [],
  transfer: [],
  scheduled: false,
};

function flush(): void {
  batch.scheduled = false;
  if (batch.blocks.length === 0) return;
  post({ t: "blocks", blocks: batch.blocks }, batch.transfer);
  batch.blocks = [];
  batch.transfer = [];
}

function queueBlock(block: WireBlock, transfer?: ArrayBuffer): void {
  batch.blocks.push(block);
  if (transfer) batch.transfer.push(transfer);
  if (!batch.scheduled) {
    batch.scheduled = true;
    setImmediate(flush);
  }
}

/** A buffer whose memory is its own (Node's cipher output, a fresh body): can be moved, not copied. */
function movable(buf: Buffer): boolean {
  const ab = buf.buffer;
  return ab instanceof ArrayBuffer && buf.byteOffset === 0 && ab.byteLength <= buf.length + 64;
}

async function main(): Promise<void> {
  let source: LocalRunSource;
  try {
    const store = await openObjectStore(setup.storeUrl);
    const keyring = new Keyring(setup.keys.map(([id, key]) => [id, Buffer.from(key)]));
    const codec = new ChunkCodec(keyring, { blockSize: setup.blockSize });
    // Shared GET buffers: the main thread writes the sealed run to the disk cache from them.
    source = new LocalRunSource(store, codec, setup.maxGetBytes, { shared: true, pooledBuffers: setup.pooledBuffers });
  } catch (err) {
    post({ t: "startFailed", error: toWire(err) });
    return;
  }
  const lent = new Map<number, FetchedRun>();
  port.on("message", (m: ToWorker) => {
    if (m.t === "release") {
      lent.get(m.id)?.release();
      lent.delete(m.id);
      return;
    }
    if (m.t === "warm") {
      source.warmConnections(m.connections);
      return;
    }
    const { id } = m;
    const targets = m.targets?.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength));
    const onBlock = (index: number, plain: Buffer | undefined, error?: unknown) => {
      const target = targets?.[index];
      if (!plain) queueBlock({ id, index, error: toWire(error) });
      else if (target && plain.buffer === target.buffer && plain.byteOffset === target.byteOffset)
        queueBlock({ id, index, length: plain.length }); // already in the main thread's slot
      else queueBlock({ id, index, plain }, movable(plain) ? (plain.buffer as ArrayBuffer) : undefined);
    };
    if (m.t === "openCached") {
      source.openCached(m.chunkId, m.read, onBlock, targets).then(
        () => {
          flush();
          post({ t: "opened", id });
        },
        (err) => {
          flush();
          post({ t: "failed", id, error: toWire(err) });
        },
      );
      return;
    }
    source.fetch(m, onBlock, targets).then(
      (run) => {
        lent.set(id, run);
        flush(); // a run's blocks always arrive before its end
        // A body in the shared GET buffer is lent; one the backend allocated (it ignored
        // `into`) is moved when it owns its memory, else copied.
        const body = run.body;
        const move = !(body.buffer instanceof SharedArrayBuffer) && movable(body);
        post({ t: "done", id, body, buffers: source.bufferStats() }, move ? [body.buffer as ArrayBuffer] : []);
      },
      (err) => {
        flush();
        post({ t: "failed", id, error: toWire(err) });
      },
    );
  });
  post({ t: "ready" });
}

void main();
