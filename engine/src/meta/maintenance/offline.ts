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
import type { SealedStore } from "../durable/layout.js";
import { Lease } from "../durable/lease.js";
import { recover } from "../durable/recovery.js";
import { Namespace } from "../namespace/machine.js";
import type { NsRecord } from "../namespace/records.js";

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
