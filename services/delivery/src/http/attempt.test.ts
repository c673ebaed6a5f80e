import { errors } from "undici";
import { describe, expect, it } from "vitest";
import { isAttempt, reportForError, reportForStatus, statusClass } from "./attempt";
import { BlockedDestinationError } from "./guarded-connector";

describe("reportForStatus", () => {
  it.each([200, 201, 202, 204, 299])("counts %i as delivered", (status) => {
    expect(reportForStatus(status)).toEqual({ result: "delivered", status });
  });

  it.each([301, 302, 307, 308, 400, 404, 408, 410, 429, 500, 502, 503])(
    "counts %i as an http_error",
    (status) => {
      expect(reportForStatus(status)).toEqual({ result: "http_error", status });
    },
  );

  it("keeps a failure's body as its error text and response body, and its Retry-After", () => {
    expect(reportForStatus(503, { body: "busy", retryAfterMs: 5_000 })).toEqual({
      result: "http_error",
      status: 503,
      error: "busy",
      retryAfterMs: 5_000,
      responseBody: "busy",
    });
  });

  it("keeps a success's body as its response body", () => {
    expect(reportForStatus(200, { body: '{"ok":true}' })).toEqual({
      result: "delivered",
      status: 200,
      responseBody: '{"ok":true}',
    });
  });

  it("leaves out an empty body", () => {
    expect(reportForStatus(500, { body: "" })).toEqual({ result: "http_error", status: 500 });
    expect(reportForStatus(204, { body: "" })).toEqual({ result: "delivered", status: 204 });
  });
});

describe("reportForError", () => {
  it("maps the total timeout to timeout", () => {
    const error = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(reportForError(error)).toEqual({
      result: "timeout",
      error: "The operation was aborted due to timeout",
    });
  });

  it("maps undici's read timeouts to timeout", () => {
    expect(reportForError(new errors.HeadersTimeoutError()).result).toBe("timeout");
    expect(reportForError(new errors.BodyTimeoutError()).result).toBe("timeout");
  });

  it("maps a connect timeout to network_error: no connection, like a refusal", () => {
    expect(reportForError(new errors.ConnectTimeoutError()).result).toBe("network_error");
  });

  it("maps socket and DNS failures to network_error with their code", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(reportForError(reset)).toEqual({ result: "network_error", error: "read ECONNRESET" });
    const closed = new errors.SocketError("other side closed");
    expect(reportForError(closed)).toEqual({
      result: "network_error",
      error: "UND_ERR_SOCKET: other side closed",
    });
    const dns = Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.invalid"), {
      code: "ENOTFOUND",
    });
    expect(reportForError(dns).result).toBe("network_error");
  });

  it("finds the code inside an AggregateError from trying several addresses", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED ::1:9"), {
      code: "ECONNREFUSED",
    });
    const aggregate = new AggregateError([refused], "");
    expect(reportForError(aggregate)).toEqual({
      result: "network_error",
      error: "connect ECONNREFUSED ::1:9",
    });
  });

  it("maps the guard's refusal to blocked_destination, also when wrapped", () => {
    const blocked = new BlockedDestinationError("127.0.0.1", "127.0.0.1 is a private address");
    expect(reportForError(blocked).result).toBe("blocked_destination");
    expect(reportForError(new Error("fetch failed", { cause: blocked })).result).toBe(
      "blocked_destination",
    );
  });

  it("maps anything else to network_error rather than throwing", () => {
    expect(reportForError("weird").result).toBe("network_error");
    expect(reportForError(new errors.InvalidArgumentError("invalid header")).result).toBe(
      "network_error",
    );
  });
});

describe("statusClass", () => {
  it.each([
    [undefined, "none"],
    [200, "2xx"],
    [302, "3xx"],
    [404, "4xx"],
    [503, "5xx"],
    [99, "none"],
  ] as const)("labels %s as %s", (status, label) => {
    expect(statusClass(status)).toBe(label);
  });
});

describe("isAttempt", () => {
  it("counts only results where a request was made", () => {
    expect(isAttempt("delivered")).toBe(true);
    expect(isAttempt("http_error")).toBe(true);
    expect(isAttempt("timeout")).toBe(true);
    expect(isAttempt("network_error")).toBe(true);
    expect(isAttempt("blocked_destination")).toBe(true);
    expect(isAttempt("endpoint_missing")).toBe(false);
    expect(isAttempt("endpoint_disabled")).toBe(false);
    expect(isAttempt("circuit_open")).toBe(true);
    expect(isAttempt("rate_limited")).toBe(false);
  });
});
