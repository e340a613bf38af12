import { containsCidr, formatCidr, parseCidr, sameCidr, type Cidr } from "./cidr.js";

const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c) throw new Error(`test CIDR ${text} must parse`);
  return c;
};

describe("parseCidr and formatCidr", () => {
  test.each<[string, string]>([
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["203.0.113.7", "203.0.113.7/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["255.255.255.255/32", "255.255.255.255/32"],
    ["::/0", "::/0"],
    ["2001:DB8::1", "2001:db8::1/128"],
    ["2001:db8:0:0:0:0:0:1/64", "2001:db8::/64"],
    ["fd00:ec2::254", "fd00:ec2::254/128"],
    ["::ffff:1.2.3.4", "1.2.3.4/32"],
    ["::ffff:169.254.0.0/112", "169.254.0.0/16"],
    ["::ffff:0:0/95", "::fffe:0:0/95"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3/128"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4/128"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8/128"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7/128"],
    ["fe80::/10", "fe80::/10"],
    ["::1", "::1/128"],
  ])("%s → %s", (text, canonical) => {
    expect(formatCidr(cidr(text))).toBe(canonical);
  });

  test.each<[string]>([
    [""],
    ["example.com"],
    ["10.0.0.0/33"],
    ["::/129"],
    ["10.0.0.0/"],
    ["10.0.0.0/-1"],
    ["10.0.0.0/8/8"],
    ["010.0.0.1"],
    ["1.2.3"],
    ["fe80::1%eth0"],
    ["10.0.0.0/ 8"],
  ])("refuses %s", (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});

describe("containsCidr", () => {
  test.each<[string, string, boolean]>([
    ["0.0.0.0/0", "10.0.0.0/8", true],
    ["10.0.0.0/8", "10.0.0.0/8", true],
    ["10.0.0.0/8", "10.200.0.0/16", true],
    ["10.0.0.0/16", "10.0.0.0/8", false],
    ["8.0.0.0/6", "10.0.0.0/8", true],
    ["8.0.0.0/7", "10.0.0.0/8", false],
    ["169.254.0.0/16", "169.254.169.254/32", true],
    ["::/0", "fc00::/7", true],
    ["fc00::/7", "fd00:ec2::254/128", true],
    ["0.0.0.0/0", "::/0", false],
    ["::/0", "0.0.0.0/0", false],
  ])("%s contains %s: %s", (outer, inner, expected) => {
    expect(containsCidr(cidr(outer), cidr(inner))).toBe(expected);
  });

  test("sameCidr compares ranges, not spellings", () => {
    expect(sameCidr(cidr("10.1.2.3/8"), cidr("10.0.0.0/8"))).toBe(true);
    expect(sameCidr(cidr("10.0.0.0/8"), cidr("10.0.0.0/9"))).toBe(false);
  });
});
