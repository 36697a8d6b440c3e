// A metadata-service stand-in for the SIGKILL test: a key-value machine on the built durability
// layer (dist/) over a file:// store. Prints "recovered <version> <state JSON>" after start, then
// appends records forever, printing "ack <version>" once each is durable. Record v is a pure
// function of v, so the parent can compute the expected state for any version.
import { AtRestCipher } from "../../../dist/crypto/atrest.js";
import { openDurableMeta } from "../../../dist/meta/durable/index.js";
import { FileObjectStore } from "../../../dist/object/fs.js";

const [root, keyHex, cacheDir] = process.argv.slice(2);
export const recordFor = (v) =>
  v % 7 === 0 ? { op: "del", key: `k${v % 13}` } : { op: "set", key: `k${v % 13}`, value: `v${v}` };

class Kv {
  version = 0;
  map = new Map();
  static restore(image) {
    const m = new Kv();
    if (image) {
      const { version, entries } = JSON.parse(image.toString());
      m.version = version;
      for (const [k, v] of entries) m.map.set(k, v);
    }
    return m;
  }
  replay({ version, record }) {
    if (record.op === "set") this.map.set(record.key, record.value);
    else this.map.delete(record.key);
    this.version = version;
  }
  captureImage() {
    const frozen = JSON.stringify({ version: this.version, entries: [...this.map] });
    return () => Buffer.from(frozen);
  }
  exportImage() {
    return this.captureImage()();
  }
}

const { machine, journal } = await openDurableMeta({
  store: new FileObjectStore(root),
  cipher: new AtRestCipher(Buffer.from(keyHex, "hex")),
  restore: Kv.restore,
  cacheDir: cacheDir || undefined,
  lease: { ttlMs: 300, takeover: true },
  checkpointEveryRecords: 300,
  maxBatchRecords: 64,
});
const state = Object.fromEntries([...machine.map].sort());
process.stdout.write(`recovered ${machine.version} ${JSON.stringify(state)}\n`);
for (;;) {
  const waves = [];
  for (let i = 0; i < 20; i++) {
    const entry = { version: machine.version + 1, record: recordFor(machine.version + 1) };
    machine.replay(entry);
    waves.push(journal.append(entry).then(() => process.stdout.write(`ack ${entry.version}\n`)));
  }
  await Promise.all(waves);
}
