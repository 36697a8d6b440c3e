/** A real azurite-blob process on a free loopback port, in a temp dir, with one container. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { freePort, isListening } from "./ports.js";
import { type ManagedProcess, REPO_ROOT, startProcess } from "./process.js";

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteHandle {
  endpoint: string;
  connectionString: string;
  container: string;
  url(prefix?: string): string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startAzurite(container = "filespaces-test"): Promise<AzuriteHandle> {
  const dir = await mkdtemp(join(tmpdir(), "fs-azurite-"));
  const port = await freePort();
  const proc = await startProcess({
    command: join(REPO_ROOT, "node_modules/.bin/azurite-blob"),
    args: [
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--location",
      dir,
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
    ],
    ready: () => isListening(port),
    stopSignal: "SIGINT",
  });
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
  try {
    await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).createIfNotExists();
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    endpoint,
    connectionString,
    container,
    url: (prefix = "") => `azure://${container}/${prefix}`,
    process: proc,
    stop: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
