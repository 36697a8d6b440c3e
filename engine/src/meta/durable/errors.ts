/** Typed failures of the metadata durability layer. */

/**
 * This instance can no longer commit: a newer epoch claimed the journal (or took the lease).
 * Nothing it had not acknowledged before is acknowledged; the service must stop.
 */
export class FencedError extends Error {
  override name = "FencedError";
  readonly code = "FENCED";
}

/** The journal failed for good (store unreachable after retries); the service must stop (fail-stop). */
export class JournalFailedError extends Error {
  override name = "JournalFailedError";
}

/** Who holds a filespace's metadata lease. */
export interface LeaseHolder {
  host: string;
  pid: number;
  /** Random id of the holding instance (distinguishes two processes with the same host/pid). */
  instanceId: string;
  /** ISO time the holder took the lease. */
  since: string;
}

/** Another metadata service (or embedded mount) holds the filespace; refuse to start rather than fence it. */
export class ServiceAlreadyRunningError extends Error {
  override name = "ServiceAlreadyRunningError";
  constructor(
    readonly holder: LeaseHolder,
    readonly expired: boolean,
  ) {
    super(
      expired
        ? `filespace metadata lease of ${holder.host} (pid ${holder.pid}, since ${holder.since}) has expired; ` +
            "if that service crashed, start again with takeover enabled"
        : `filespace is already served by ${holder.host} (pid ${holder.pid}, since ${holder.since}); ` +
            "stop it first (a second service on the same filespace would corrupt it)",
    );
  }
}

/** The journal/checkpoints in the store are inconsistent in a way that could lose acknowledged data. */
export class RecoveryError extends Error {
  override name = "RecoveryError";
}
