import type { Context } from "hono";
import { serviceUnavailable } from "../http/problems";

/** 503: no delivery instance to ask, or NATS could not be asked. */
export function breakersUnavailable(c: Context, why: "no_instances" | "unavailable") {
  return serviceUnavailable(
    c,
    why === "no_instances"
      ? "no delivery instance answered discovery over NATS"
      : "NATS is unavailable: delivery instances cannot be asked",
  );
}
