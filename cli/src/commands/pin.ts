/** `filespace pin|unpin <path>`: keep a tree's data in the disk cache (refreshed when others change it). */
import { controlRequest, findMount } from "@filespaces/engine/mount";
import { Command } from "commander";

function pinLike(op: "pin" | "unpin", description: string): Command {
  return new Command(op)
    .description(description)
    .argument("<path>")
    .action(async (path: string) => {
      const found = findMount(path);
      const a = await controlRequest(found.socket, { op, path: found.relPath });
      if (!a.ok) throw new Error(a.error);
      process.stdout.write(`${op === "pin" ? "pinned" : "unpinned"} ${path} (${a.chunks} chunks)\n`);
    });
}

export const pinCommand = () => pinLike("pin", "keep a file or tree in the mount's disk cache");
export const unpinCommand = () => pinLike("unpin", "let a pinned file or tree leave the disk cache again");
