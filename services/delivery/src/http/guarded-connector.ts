import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { buildConnector } from "undici";
import type { AddressGuard } from "./address-guard";

/** Raised at connect time when the destination resolves to an address the guard refuses. */
export class BlockedDestinationError extends Error {
  readonly code = "HOOKLINE_BLOCKED_DESTINATION";
  constructor(
    readonly host: string,
    reason: string,
  ) {
    super(`destination ${host} refused: ${reason}`);
    this.name = "BlockedDestinationError";
  }
}

/**
 * A `lookup` for net.connect that resolves with dns.lookup and refuses the connection when any
 * resolved address is blocked. The socket connects to exactly the addresses checked here, so a
 * DNS answer that changes between a check and the connect (rebinding) cannot get past it.
 */
export function guardedLookup(guard: AddressGuard): LookupFunction {
  return (hostname, options: LookupOptions, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, "");
        return;
      }
      for (const { address } of addresses) {
        const verdict = guard.check(address);
        if (verdict.blocked) {
          callback(new BlockedDestinationError(hostname, verdict.reason), "");
          return;
        }
      }
      const [first] = addresses;
      if (options.all) callback(null, addresses);
      else if (first) callback(null, first.address, first.family);
      else
        callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
    });
  };
}

/**
 * An undici `connect` function that checks IP-literal hosts directly and resolves every other
 * host through guardedLookup, then connects with undici's own connector (TLS, timeouts, sessions).
 */
export function createGuardedConnector(options: {
  guard: AddressGuard;
  connectTimeoutMs: number;
}): buildConnector.connector {
  const { guard } = options;
  const connect = buildConnector({
    timeout: options.connectTimeoutMs,
    lookup: guardedLookup(guard),
  });
  return (target, callback) => {
    if (isIP(target.hostname) !== 0) {
      const verdict = guard.check(target.hostname);
      if (verdict.blocked) {
        callback(new BlockedDestinationError(target.hostname, verdict.reason), null);
        return;
      }
    }
    connect(target, callback);
  };
}
