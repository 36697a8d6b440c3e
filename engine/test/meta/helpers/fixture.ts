/** Fixtures for the conformance suite: an API plus a way to mint tokens for it. */
import { randomBytes } from "node:crypto";
import { type AccessClaims, issueToken } from "../../../src/meta/access/token.js";
import type { MetaApi } from "../../../src/meta/api.js";
import { Namespace } from "../../../src/meta/namespace/machine.js";
import { MetaService } from "../../../src/meta/service/service.js";
import { MemoryJournal } from "./memory-journal.js";

export interface MetaFixture {
  api: MetaApi;
  /** Mint an access token the API under test accepts. */
  issue(claims: AccessClaims): string;
  close(): Promise<void>;
}

export interface InProcessFixture extends MetaFixture {
  service: MetaService;
  journal: MemoryJournal;
  key: Buffer;
  clock: { now: number };
}

/** The in-process service over a memory journal, with a controllable clock. */
export function inProcessFixture(opts: { namespace?: Namespace; start?: number } = {}): InProcessFixture {
  const key = randomBytes(32);
  const clock = { now: opts.start ?? 1_700_000_000_000 };
  const journal = new MemoryJournal(opts.namespace?.version ?? 0);
  const service = new MetaService({
    journal,
    tokenKey: key,
    namespace: opts.namespace ?? new Namespace(),
    clock: () => clock.now,
    schedule: [],
  });
  return {
    api: service,
    service,
    journal,
    key,
    clock,
    issue: (claims) => issueToken(key, claims),
    close: () => service.close(),
  };
}
