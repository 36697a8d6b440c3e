import { type ObjectStore, openObjectStore } from "@filespaces/engine";

/** Opens the store at `url`, runs `fn`, and always closes the store. */
export async function withStore<T>(url: string, fn: (store: ObjectStore) => Promise<T>): Promise<T> {
  const store = await openObjectStore(url);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
