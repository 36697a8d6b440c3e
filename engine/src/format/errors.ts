/** `filespace.json` is missing, unreadable, or not a header this client understands. */
export class FormatError extends Error {
  override name = "FormatError";
}

/** `createFilespace` found a filespace already there; it never overwrites one. */
export class FilespaceExistsError extends Error {
  override name = "FilespaceExistsError";
}

/** There is no `filespace.json` at this store location. */
export class FilespaceNotFoundError extends Error {
  override name = "FilespaceNotFoundError";
}

/** Someone else changed the header between our read and our write; re-open and retry. */
export class HeaderConflictError extends Error {
  override name = "HeaderConflictError";
}
