/**
 * Reading a filespace's metadata without running its service, for `filespace fsck|gc` when no
 * `--meta` address is given: recover (newest checkpoint + journal replay) into memory, read-only.
 *
 * Read-only means: no lease is taken, no epoch is started, nothing is written. That is only
 * sound while no service runs — a running one keeps committing, and our copy would be stale —
 * so we refuse while a live (unreleased, unexpired) lease exists and name its holder. A holder
 * that crashed leaves an expired lease behind; reading past it is fine.
 */
import { AtRestCipher } from "../../crypto/atrest.js";
import type { ObjectStore } from "../../object/types.js";
import { issueToken } from "../access/token.js";
import { ServiceAlreadyRunningError } from "../durable/errors.js";
import type { SealedStore } from "../durable/layout.js";
import { Lease } from "../durable/lease.js";
import { type DurableMeta, openDurableMeta } from "../durable/open.js";
import { recover } from "../durable/recovery.js";
import { deriveAccessTokenKey } from "../grpc/serve.js";
import { Namespace } from "../namespace/machine.js";
import type { NsRecord } from "../namespace/records.js";
import { MetaService } from "../service/service.js";

/** A live metadata service (or embedded mount) holds the filespace: ask it instead (`--meta`). */
export class MetadataInUseError extends Error {
  override name = "MetadataInUseError";
}

export interface OfflineMetadata {
  namespace: Namespace;
  /** The sealed metadata store (for checkMetadata). */
  sealed: SealedStore;
}

export async function openMetadataOffline(o: {
  store: ObjectStore;
  /** The service's at-rest key (deriveMetaAtRestKey(keyring) or `filespace key meta-key`). */
  metaKey: Buffer;
  prefix?: string;
  now?: () => number;
}): Promise<OfflineMetadata> {
  const sealed: SealedStore = { store: o.store, cipher: new AtRestCipher(o.metaKey), prefix: o.prefix ?? "" };
  const lease = await Lease.read(sealed);
  const now = (o.now ?? Date.now)();
  if (lease && !lease.record.released && lease.record.renewedAt + lease.record.ttlMs >= now) {
    const h = lease.record.holder;
    throw new MetadataInUseError(
      `a metadata service is running on this filespace (${h.host} pid ${h.pid}, since ${h.since}, epoch ` +
        `${lease.record.epoch}); pass --meta HOST:PORT to ask it, or stop it first`,
    );
  }
  const recovered = await recover<NsRecord, Namespace>(sealed, {
    restore: (image) => (image ? Namespace.importImage(image) : new Namespace()),
  });
  return { namespace: recovered.machine, sealed };
}

/**
 * A short-lived service of our own for maintenance that must *write* (compaction): takes the
 * lease like any service (a new epoch; refused while another one runs), closes with a checkpoint.
 */
export async function openMaintenanceService(o: { store: ObjectStore; metaKey: Buffer; prefix?: string }): Promise<{
  api: MetaService;
  /** Admin token for this service. */
  token: string;
  close(): Promise<void>;
}> {
  let durable: DurableMeta<Namespace, NsRecord>;
  try {
    durable = await openDurableMeta<NsRecord, Namespace>({
      store: o.store,
      cipher: new AtRestCipher(o.metaKey),
      restore: (image) => (image ? Namespace.importImage(image) : new Namespace()),
      prefix: o.prefix ?? "",
      lease: { takeover: false },
    });
  } catch (err) {
    if (!(err instanceof ServiceAlreadyRunningError)) throw err;
    const h = err.holder;
    throw new MetadataInUseError(
      `a metadata service is running on this filespace (${h.host} pid ${h.pid}, since ${h.since}); ` +
        "pass --meta HOST:PORT to go through it, or stop it first",
      { cause: err },
    );
  }
  const tokenKey = deriveAccessTokenKey(o.metaKey);
  const api = new MetaService({
    journal: durable.journal,
    tokenKey,
    namespace: durable.machine,
    epoch: durable.epoch,
    schedule: [],
  });
  return {
    api,
    token: issueToken(tokenKey, { client: "filespace-maintenance", mode: "admin", subtreeRoot: 1 }),
    async close() {
      await api.close();
      await durable.journal.close();
      await durable.lease.release();
    },
  };
}
