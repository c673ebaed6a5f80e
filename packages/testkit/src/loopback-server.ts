import type { Server } from "node:http";
import type { Socket } from "node:net";

/**
 * Listens on 127.0.0.1 (a free port unless one is given) and tracks open sockets, so a close can
 * end kept-alive connections at once. A reset or hung client must not crash the test process.
 */
export async function listenOnLoopback(
  server: Server,
  port = 0,
): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return { port: address.port, sockets };
}
