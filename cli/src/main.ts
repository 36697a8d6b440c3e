import { WrongKeyError } from "@filespaces/engine";
import { Command, CommanderError } from "commander";
import { commandFactories } from "./commands/index.js";
import { UsageError } from "./flags.js";

/** Exit codes: 0 ok, 1 failure, 2 bad usage, 3 wrong passphrase or secret. */
export const EXIT = { ok: 0, failure: 1, usage: 2, wrongKey: 3 } as const;

/** Entry point of the `filespace` command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("filespace")
    .description("Filespaces: an encrypted cloud NAS that streams from object storage")
    .exitOverride();
  for (const make of commandFactories) program.addCommand(make());
  // Subcommands need exitOverride too, or commander exits the process itself.
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`filespace: ${(err as Error).message}\n`);
    if (process.env.FILESPACE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    if (err instanceof UsageError) return EXIT.usage;
    if (err instanceof WrongKeyError) return EXIT.wrongKey;
    return EXIT.failure;
  }
}
