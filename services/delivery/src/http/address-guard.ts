import { BlockList, isIP } from "node:net";

/**
 * Ranges a webhook must never reach: a customer-supplied URL pointing at them would let anyone
 * with an API token probe or call internal services (SSRF).
 */
const blockedIpv4: [string, number][] = [
  ["0.0.0.0", 8], // "this network", incl. the unspecified address
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, incl. cloud metadata 169.254.169.254
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, incl. broadcast
];

const blockedIpv6: [string, number][] = [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["100::", 64], // discard-only
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local, incl. AWS metadata fd00:ec2::254
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still routed by some stacks)
  ["ff00::", 8], // multicast
];

/** Named explicitly so they stay blocked even if a range above is ever narrowed. */
const metadataAddresses: [string, "ipv4" | "ipv6"][] = [
  ["169.254.169.254", "ipv4"],
  ["fd00:ec2::254", "ipv6"],
];

export type AddressVerdict = { blocked: false } | { blocked: true; reason: string };

export interface AddressGuard {
  check(address: string): AddressVerdict;
}

/** Splits an IPv6 address into its eight 16-bit groups; undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted?.[1]) {
    const octets = dotted[1].split(".").map(Number);
    if (octets.some((octet) => octet > 255)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, -dotted[1].length);
    // "::ffff:" loses its separator colon; a bare "::" keeps both.
    if (!text.endsWith("::")) text = text.replace(/:$/, "");
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) =>
    part === undefined || part === ""
      ? []
      : part.split(":").map((group) => Number.parseInt(group, 16));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const fill = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return undefined;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  return groups.some((group) => Number.isNaN(group)) ? undefined : groups;
}

const groupsToIpv4 = (high: number, low: number) =>
  `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach it: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d) and 6to4 (2002:AB:CD::).
 */
export function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((group) => group === 0);
  if (zeroTo(5) && g5 === 0xffff) return groupsToIpv4(g6, g7);
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return groupsToIpv4(g6, g7); // SIIT-translated
  if (zeroTo(6) && (g6 !== 0 || g7 > 1)) return groupsToIpv4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return groupsToIpv4(g6, g7);
  }
  if (g0 === 0x2002 && g1 !== undefined && g2 !== undefined) return groupsToIpv4(g1, g2);
  return undefined;
}

/** Classifies IP addresses (not hostnames) with Node's BlockList. */
export function createAddressGuard(): AddressGuard {
  const list = new BlockList();
  for (const [network, prefix] of blockedIpv4) list.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of blockedIpv6) list.addSubnet(network, prefix, "ipv6");
  for (const [address, family] of metadataAddresses) list.addAddress(address, family);

  const check = (raw: string): AddressVerdict => {
    // Zone ids (fe80::1%eth0) are not part of the address.
    const address = raw.replace(/%.*$/, "");
    const family = isIP(address);
    if (family === 4) {
      return list.check(address, "ipv4")
        ? { blocked: true, reason: `${address} is a private or reserved address` }
        : { blocked: false };
    }
    if (family === 6) {
      const inner = embeddedIpv4(address);
      if (inner !== undefined && list.check(inner, "ipv4")) {
        return { blocked: true, reason: `${raw} carries the private or reserved address ${inner}` };
      }
      return list.check(address, "ipv6")
        ? { blocked: true, reason: `${raw} is a private or reserved address` }
        : { blocked: false };
    }
    return { blocked: true, reason: `${raw} is not an IP address` };
  };
  return { check };
}
