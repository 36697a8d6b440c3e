/**
 * Where passphrases and secrets come from, in order: a file named by a flag, an environment
 * variable, then (passphrases only) an interactive prompt without echo — asked twice when a
 * new passphrase is being set. Without a TTY and without another source we refuse clearly
 * instead of hanging on stdin.
 *
 * Files: trailing CR/LF are stripped (editors and `echo` add them); the same rule applies
 * when a slot is created and when it is unlocked, so it can never cause a mismatch.
 */
import { readFile } from "node:fs/promises";
import type { SlotCredential } from "@filespaces/engine";
import { UsageError } from "./flags.js";

export interface CredentialSources {
  /** `--passphrase-file` (or `--new-passphrase-file`). */
  passphraseFile?: string | undefined;
  /** `--secret-file` (or `--new-secret-file`). */
  secretFile?: string | undefined;
}

export interface SourceNames {
  passphraseFlag: string;
  secretFlag: string;
  passphraseEnv: string;
  secretEnv: string;
  /** What the prompt asks for, e.g. "Passphrase for the filespace". */
  prompt: string;
}

export const UNLOCK_SOURCES: SourceNames = {
  passphraseFlag: "--passphrase-file",
  secretFlag: "--secret-file",
  passphraseEnv: "FILESPACE_PASSPHRASE",
  secretEnv: "FILESPACE_SECRET",
  prompt: "Passphrase",
};

export const NEW_KEY_SOURCES: SourceNames = {
  passphraseFlag: "--new-passphrase-file",
  secretFlag: "--new-secret-file",
  passphraseEnv: "FILESPACE_NEW_PASSPHRASE",
  secretEnv: "FILESPACE_NEW_SECRET",
  prompt: "New passphrase",
};

const MIN_NEW_PASSPHRASE = 8;

/**
 * Reads one credential. Flags win over environment variables, a passphrase over a secret at
 * the same level; the prompt comes last. `confirm` asks twice (for a new passphrase) and
 * enforces a minimum length.
 */
export async function readCredential(
  sources: CredentialSources,
  names: SourceNames,
  options: { confirm?: boolean; kind?: "passphrase" | "secret"; env?: NodeJS.ProcessEnv } = {},
): Promise<SlotCredential> {
  const env = options.env ?? process.env;
  const wantSecret = options.kind === "secret";
  if (sources.passphraseFile && !wantSecret) {
    return { passphrase: checkNew(await readText(sources.passphraseFile, names.passphraseFlag), names, options) };
  }
  if (sources.secretFile && options.kind !== "passphrase") {
    return { secret: Buffer.from(await readText(sources.secretFile, names.secretFlag)) };
  }
  const envPassphrase = env[names.passphraseEnv];
  if (envPassphrase && !wantSecret) return { passphrase: checkNew(envPassphrase, names, options) };
  const envSecret = env[names.secretEnv];
  if (envSecret && options.kind !== "passphrase") return { secret: Buffer.from(envSecret) };
  if (wantSecret) {
    throw new UsageError(`a secret is needed: pass ${names.secretFlag} FILE or set ${names.secretEnv}`);
  }
  if (!process.stdin.isTTY) {
    throw new UsageError(
      `a passphrase is needed and there is no terminal to ask on: pass ${names.passphraseFlag} FILE, ` +
        `set ${names.passphraseEnv}, or use a secret (${names.secretFlag} / ${names.secretEnv})`,
    );
  }
  const passphrase = await promptHidden(`${names.prompt}: `);
  if (options.confirm) {
    checkNew(passphrase, names, options);
    if ((await promptHidden(`${names.prompt} (again): `)) !== passphrase)
      throw new UsageError("the passphrases do not match");
  }
  return { passphrase };
}

function checkNew(passphrase: string, names: SourceNames, options: { confirm?: boolean }): string {
  if (options.confirm && passphrase.length < MIN_NEW_PASSPHRASE) {
    throw new UsageError(`${names.prompt.toLowerCase()} must be at least ${MIN_NEW_PASSPHRASE} characters`);
  }
  if (passphrase.length === 0) throw new UsageError(`${names.prompt.toLowerCase()} is empty`);
  return passphrase;
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).replace(/[\r\n]+$/, "");
  } catch (cause) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = "";
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            return resolve(text);
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            return reject(new UsageError("interrupted"));
          }
          if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}
