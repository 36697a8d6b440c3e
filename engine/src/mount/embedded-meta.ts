/**
 * The embedded metadata service of a mount without `--meta`: the durable service (journal and
 * checkpoints in the same object store, under the lease) running in the mount process.
 *
 * The lease makes a second embedded mount of the same filespace refuse while the first runs. A
 * mount killed with SIGKILL leaves a fresh lease behind; when its holder was a process on this
 * host that no longer exists, we wait for the (short) lease to expire and take it over instead of
 * refusing, so a restart after a crash just works.
 */
import { hostname } from "node:os";
import { AtRestCipher } from "../crypto/atrest.js";
import { deriveMetaAtRestKey, type Keyring } from "../crypto/keyring.js";
import { issueToken } from "../meta/access/token.js";
import { ServiceAlreadyRunningError } from "../meta/durable/errors.js";
import { type DurableMeta, openDurableMeta } from "../meta/durable/open.js";
import { deriveAccessTokenKey } from "../meta/grpc/serve.js";
import { Namespace } from "../meta/namespace/machine.js";
import type { NsRecord } from "../meta/namespace/records.js";
import { MetaService } from "../meta/service/service.js";
import type { ObjectStore } from "../object/types.js";
import { MountRefusedError } from "./errors.js";

export interface EmbeddedMeta {
  service: MetaService;
  /** An admin token for this mount's own calls. */
  token: string;
  /** Settles if the journal fails for good (fenced, store failure). */
  failed: Promise<Error>;
  close(): Promise<void>;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export async function openEmbeddedMeta(o: {
  store: ObjectStore;
  keyring: Keyring;
  cacheDir?: string;
  leaseTtlMs: number;
  log: (line: string) => void;
}): Promise<EmbeddedMeta> {
  const metaKey = deriveMetaAtRestKey(o.keyring);
  let reportFailure!: (err: Error) => void;
  const failed = new Promise<Error>((r) => (reportFailure = r));
  let durable: DurableMeta<Namespace, NsRecord> | undefined;
  const giveUpAt = Date.now() + 2 * o.leaseTtlMs + 5000;
  while (!durable) {
    try {
      durable = await openDurableMeta<NsRecord, Namespace>({
        store: o.store,
        cipher: new AtRestCipher(metaKey),
        restore: (image) => (image ? Namespace.importImage(image) : new Namespace()),
        prefix: "",
        ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
        lease: { ttlMs: o.leaseTtlMs, takeover: true },
        onFailure: reportFailure,
      });
    } catch (err) {
      if (!(err instanceof ServiceAlreadyRunningError)) throw err;
      const h = err.holder;
      const crashedHere = h.host === hostname() && h.pid !== process.pid && processGone(h.pid);
      if (!crashedHere || Date.now() > giveUpAt) {
        throw new MountRefusedError(
          `this filespace is already mounted or served by ${h.host} (pid ${h.pid}, since ${h.since}); ` +
            "unmount it there, or mount with --meta HOST:PORT against a shared metadata service",
          { cause: err },
        );
      }
      o.log(`previous mount (pid ${h.pid}) crashed; waiting for its metadata lease to expire`);
      await new Promise((r) => setTimeout(r, Math.min(1000, o.leaseTtlMs / 3)));
    }
  }
  const d = durable;
  const tokenKey = deriveAccessTokenKey(metaKey);
  const service = new MetaService({
    journal: d.journal,
    tokenKey,
    namespace: d.machine,
    epoch: d.epoch,
    timers: true,
  });
  const token = issueToken(tokenKey, { client: `mount@${hostname()}`, mode: "admin", subtreeRoot: 1 });
  let failure: Error | undefined;
  failed.then((e) => (failure = e));
  return {
    service,
    token,
    failed,
    async close() {
      await service.close();
      if (failure) {
        d.lease.stopRenewing();
        return;
      }
      await d.journal.close();
      await d.lease.release();
    },
  };
}
