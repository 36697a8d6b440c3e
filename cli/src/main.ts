import { Command, CommanderError } from "commander";

/** Entry point of the `filespace` command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("filespace")
    .description("Filespaces: an encrypted cloud NAS that streams from object storage")
    .exitOverride();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`filespace: ${(err as Error).message}\n`);
    return 1;
  }
}
