import { createServer } from "node:net";

/**
 * Asks the kernel for a free TCP port on 127.0.0.1 by binding port 0 and releasing it.
 * Another process could grab it before the caller binds; callers that spawn servers retry.
 */
export function freePort(): Promise<number> {
  return bindAndRelease(0);
}

/** `preferred` when nothing listens on it (such as 4222 without a system NATS), else a free one. */
export async function preferredOrFreePort(preferred: number): Promise<number> {
  try {
    return await bindAndRelease(preferred);
  } catch {
    return freePort();
  }
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("freePort: server has no TCP address"));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}
