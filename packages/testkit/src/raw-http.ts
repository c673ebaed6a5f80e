import { connect } from "node:net";

/**
 * Writes `head` (and `chunks`) to a raw socket on 127.0.0.1 and resolves with the response's
 * status line as soon as it arrives: shows a server answered without waiting for a body it was
 * promised, which no HTTP client would let a test leave unsent.
 */
export function rawStatusLine(port: number, head: string, chunks: string[] = []): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  return new Promise<string>((resolve, reject) => {
    let received = "";
    socket.on("data", (data) => {
      received += data.toString("latin1");
      const end = received.indexOf("\r\n");
      if (end >= 0) resolve(received.slice(0, end));
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed before a status line: ${received}`)));
    socket.write(head);
    for (const chunk of chunks) socket.write(chunk);
  }).finally(() => socket.destroy());
}
