import { ConfigError } from "../../lib/flags.js";
import { memoryConfig, parseConfig } from "./config.js";

const ENV = { SOULBOX_NODE_AGENT_TOKEN_FILE: "/t" };
const BASE = ["--containerd-state", "/run/containerd"];
const FULL = {
  ctr: "/usr/bin/ctr",
  "containerd-address": "/run/containerd/containerd.sock",
  "kubelet-url": "https://10.0.0.1:10250",
  "kubelet-ca": "/var/run/secrets/ca.crt",
};

describe("memoryConfig", () => {
  test("no Memory flag: Memory is off", () => expect(memoryConfig({})).toBeUndefined());
  test.each([
    [{ ...FULL, "kubelet-token-file": "/tok" }, { kubeletTokenFile: "/tok" }],
    [
      { ...FULL, "kubelet-cert": "/c.crt", "kubelet-key": "/c.key" },
      { kubeletCert: "/c.crt", kubeletKey: "/c.key" },
    ],
  ])("a whole set %#", (flags, creds) =>
    expect(memoryConfig(flags)).toEqual({
      ctr: FULL.ctr,
      containerdAddress: FULL["containerd-address"],
      kubeletUrl: FULL["kubelet-url"],
      kubeletCa: FULL["kubelet-ca"],
      ...creds,
    }),
  );
  test.each([
    [{ ctr: "/usr/bin/ctr" }, /--containerd-address, --kubelet-url, --kubelet-ca as well/],
    [FULL, /kubelet credentials/],
    [{ ...FULL, "kubelet-cert": "/c.crt" }, /kubelet credentials/],
    [{ ...FULL, "kubelet-token-file": "/t", "kubelet-url": "http://x:1" }, /must be https/],
    [{ ...FULL, "kubelet-token-file": "/t", "kubelet-url": "https://x:1/path" }, /must be https/],
    [{ ...FULL, "kubelet-token-file": "tok" }, /--kubelet-token-file must be an absolute path/],
    [{ ...FULL, "kubelet-token-file": "/t", ctr: "ctr" }, /--ctr must be an absolute path/],
  ])("refuses %j", (flags, message) => {
    expect(() => memoryConfig(flags)).toThrow(ConfigError);
    expect(() => memoryConfig(flags)).toThrow(message);
  });
});

describe("parseConfig", () => {
  test("Memory flags reach the config; work dir defaults to the temp dir", () => {
    const cfg = parseConfig(
      [
        ...BASE,
        ...Object.entries({ ...FULL, "kubelet-token-file": "/tok" }).flatMap(([k, v]) => [
          `--${k}`,
          v,
        ]),
      ],
      { ...ENV, TMPDIR: "/scratch" },
    );
    expect(cfg).toMatchObject({ workDir: "/scratch", memory: { kubeletTokenFile: "/tok" } });
  });
  test("without them Memory is off", () =>
    expect(parseConfig(BASE, ENV)).not.toHaveProperty("memory"));
  test("a relative work dir is refused", () =>
    expect(() => parseConfig([...BASE, "--work-dir", "x"], ENV)).toThrow(/--work-dir/));
});

describe("TLS: --tls-cert and --tls-key", () => {
  test("both: the agent serves HTTPS with them", () =>
    expect(
      parseConfig([...BASE, "--tls-cert", "/etc/a/tls.crt", "--tls-key", "/etc/a/tls.key"], ENV),
    ).toMatchObject({ tls: { certFile: "/etc/a/tls.crt", keyFile: "/etc/a/tls.key" } }));
  test("neither: plain HTTP", () => expect(parseConfig(BASE, ENV)).not.toHaveProperty("tls"));
  test.each([
    [["--tls-cert", "/etc/a/tls.crt"], /go together/],
    [["--tls-key", "/etc/a/tls.key"], /go together/],
    [["--tls-cert", "tls.crt", "--tls-key", "/k"], /--tls-cert must be an absolute path/],
    [["--tls-cert", "/c", "--tls-key", "tls.key"], /--tls-key must be an absolute path/],
  ])("refuses %j", (flags, message) => {
    expect(() => parseConfig([...BASE, ...flags], ENV)).toThrow(ConfigError);
    expect(() => parseConfig([...BASE, ...flags], ENV)).toThrow(message);
  });
});
