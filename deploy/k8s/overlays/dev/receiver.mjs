// Demo webhook receiver for the dev cluster (plain Node, no dependencies). It checks Standard
// Webhooks signatures against DEMO_SECRET, logs one line per delivery and answers by path, so
// each part of Hookline can be watched at work:
//   /webhooks  204                  delivered
//   /flaky     503 half the time    retries, then delivered
//   /fail      500                  retries until exhausted, then a dead letter
//   /gone      410                  endpoint disabled, dead letter `endpoint_gone`
//   /slow      answers after 20 s   timeouts (the default webhook timeout is 15 s)
// A bad signature gets 401, which is not retried.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 9000);
const secret = process.env.DEMO_SECRET ?? "";
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
const maxBodyBytes = 1024 * 1024;

function signatureValid(headers, body) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") {
    return false;
  }
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",");
    if (version !== "v1" || value === undefined) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function statusFor(path) {
  if (path === "/flaky") return Math.random() < 0.5 ? 503 : 204;
  if (path === "/fail") return 500;
  if (path === "/gone") return 410;
  return 204;
}

const server = createServer((request, response) => {
  const path = new URL(request.url ?? "/", "http://receiver").pathname;
  if (request.method === "GET" && path === "/healthz") {
    response.writeHead(200).end("ok");
    return;
  }
  const chunks = [];
  let size = 0;
  request.on("data", (chunk) => {
    size += chunk.length;
    if (size <= maxBodyBytes) chunks.push(chunk);
  });
  request.on("end", () => {
    const body = Buffer.concat(chunks);
    const valid = signatureValid(request.headers, body);
    const status = valid ? statusFor(path) : 401;
    const delayMs = valid && path === "/slow" ? 20_000 : 0;
    setTimeout(() => {
      response.writeHead(status).end();
      console.log(
        JSON.stringify({
          path,
          status,
          webhookId: request.headers["webhook-id"],
          signature: valid ? "valid" : "invalid",
          bytes: size,
        }),
      );
    }, delayMs);
  });
});

server.listen(port, () => console.log(`demo receiver listening on :${port}`));
// Exit at once on SIGTERM: nothing here needs draining, and keep-alive connections would hold
// server.close() open until the grace period ends.
process.on("SIGTERM", () => process.exit(0));
