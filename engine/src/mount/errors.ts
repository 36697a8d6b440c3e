/** Errors of the mount process (start-up refusals, control-socket problems). */
export class MountError extends Error {
  override name = "MountError";
}

/** Another mount (or `meta serve`) already serves this filespace's metadata from the same store. */
export class MountRefusedError extends MountError {
  override name = "MountRefusedError";
}

/** No mount answers on the control socket for this path. */
export class NotMountedError extends MountError {
  override name = "NotMountedError";
}
