import { describe, expect, it } from "vitest";
import { createAddressGuard, embeddedIpv4 } from "./address-guard";

const guard = createAddressGuard();

describe("createAddressGuard", () => {
  it.each([
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.100.100.200",
    "100.127.255.254",
    "127.0.0.1",
    "127.53.0.1",
    "169.254.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.10",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
  ])("blocks the IPv4 address %s", (address) => {
    expect(guard.check(address).blocked).toBe(true);
  });

  it.each([
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "febf:ffff::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fd00:ec2::254",
    "ff02::1",
    "ff05::1:3",
    "2001:db8::1",
    "100::1",
    "fec0::1",
    // IPv4 inside IPv6: mapped, in dotted and hex form, compatible, NAT64 and 6to4.
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "::ffff:10.0.0.1",
    "::ffff:0:192.168.0.1",
    "0:0:0:0:0:ffff:c0a8:0101",
    "::127.0.0.1",
    "64:ff9b::10.1.2.3",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
  ])("blocks the IPv6 address %s", (address) => {
    expect(guard.check(address).blocked).toBe(true);
  });

  it.each([
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.167.255.255",
    "192.169.0.1",
    "198.20.0.1",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "::ffff:808:808",
    "64:ff9b::1.1.1.1",
    "2002:0808:0808::1",
  ])("allows the public address %s", (address) => {
    expect(guard.check(address)).toEqual({ blocked: false });
  });

  it("refuses what is not an IP address", () => {
    expect(guard.check("example.com").blocked).toBe(true);
    expect(guard.check("").blocked).toBe(true);
  });

  it("says why, naming the embedded address", () => {
    const verdict = guard.check("::ffff:169.254.169.254");
    expect(verdict).toEqual({
      blocked: true,
      reason: "::ffff:169.254.169.254 carries the private or reserved address 169.254.169.254",
    });
  });
});

describe("embeddedIpv4", () => {
  it.each([
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::ffff:0102:0304", "1.2.3.4"],
    ["::1.2.3.4", "1.2.3.4"],
    ["64:ff9b::1.2.3.4", "1.2.3.4"],
    ["2002:102:304::", "1.2.3.4"],
    ["2606:4700::1111", undefined],
    ["::1", undefined],
    ["::", undefined],
    ["not-an-address", undefined],
  ])("finds the IPv4 address in %s", (address, expected) => {
    expect(embeddedIpv4(address)).toBe(expected);
  });
});
