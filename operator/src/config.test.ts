import { ConfigError, parseConfig } from "./config.js";

const parse = (argv: string[], env: Record<string, string> = {}) =>
  parseConfig(argv, env, "host-1");

test("defaults", () => {
  expect(parse([])).toEqual({
    leaderElect: false,
    leaseNamespace: "default",
    leaseName: "soulbox-operator",
    identity: "host-1",
    watchNamespace: undefined,
    envdImage: "localhost/soulbox/envd:latest",
    defaultRuntimeClassName: "kata",
    kitVolume: "copy",
    metricsPort: 8080,
    healthPort: 8081,
    workers: 8,
    logLevel: "info",
    nodeAgentPort: 9479,
  });
});

test("the node agents' port and token file", () => {
  const cfg = parseConfig(
    ["--node-agent-port", "9500"],
    { SOULBOX_NODE_AGENT_TOKEN_FILE: "/t/token" },
    "h",
  );
  expect(cfg).toMatchObject({ nodeAgentPort: 9500, nodeAgentTokenFile: "/t/token" });
  expect(() => parseConfig(["--node-agent-port", "x"], {}, "h")).toThrow(
    /--node-agent-port must be a port number/,
  );
});

test("the node agents' CA: HTTPS with it, an absolute path", () => {
  expect(parseConfig(["--node-agent-ca", "/etc/na/ca.crt"], {}, "h")).toMatchObject({
    nodeAgentCaFile: "/etc/na/ca.crt",
  });
  expect(parseConfig([], {}, "h")).not.toHaveProperty("nodeAgentCaFile");
  expect(() => parseConfig(["--node-agent-ca", "ca.crt"], {}, "h")).toThrow(
    /--node-agent-ca must be an absolute path, got 'ca.crt'/,
  );
});

test.each<[string, string[], Record<string, string>, Record<string, unknown>]>([
  [
    "leader election from the pod's identity",
    ["--leader-elect"],
    { POD_NAME: "op-0", POD_NAMESPACE: "soulbox" },
    { leaderElect: true, identity: "op-0", leaseNamespace: "soulbox" },
  ],
  [
    "explicit lease",
    ["--lease-namespace", "x", "--lease-name", "y"],
    { POD_NAMESPACE: "soulbox" },
    { leaseNamespace: "x", leaseName: "y" },
  ],
  ["one namespace", ["--watch-namespace", "team-a"], {}, { watchNamespace: "team-a" }],
  [
    "images and classes",
    ["--envd-image", "r/envd:1", "--default-runtime-class", "runc"],
    {},
    { envdImage: "r/envd:1", defaultRuntimeClassName: "runc" },
  ],
  ["the kit from an image volume", ["--kit-volume", "image"], {}, { kitVolume: "image" }],
  [
    "ports, off and on",
    ["--metrics-port", "0", "--health-port", "9000"],
    {},
    { metricsPort: 0, healthPort: 9000 },
  ],
  [
    "workers and level",
    ["--workers", "2", "--log-level", "debug"],
    {},
    { workers: 2, logLevel: "debug" },
  ],
])("%s", (_name, argv, env, expected) => {
  expect(parse(argv, env)).toMatchObject(expected);
});

test("--help", () => {
  expect(parse(["--help"])).toBe("help");
});

test.each<[string[], RegExp]>([
  [
    ["--metrics-port", "70000"],
    /--metrics-port must be a port number from 0 to 65535, got '70000'/,
  ],
  [["--health-port", "x"], /--health-port must be a port number/],
  [["--workers", "0"], /--workers must be an integer from 1 to 256, got '0'/],
  [["--log-level", "loud"], /--log-level must be one of debug, info, warn, error, got 'loud'/],
  [["--watch-namespace", "Team_A"], /--watch-namespace must be a DNS label/],
  [["--envd-image", " "], /--envd-image must not be empty/],
  [["--default-runtime-class", "Kata!"], /--default-runtime-class must be a RuntimeClass name/],
  [["--kit-volume", "mount"], /--kit-volume must be image or copy, got 'mount'/],
  [["--no-such-flag"], /Unknown option '--no-such-flag'/],
  [["stray"], /Unexpected argument 'stray'/],
])("refuses %j", (argv, message) => {
  expect(() => parse(argv)).toThrow(ConfigError);
  expect(() => parse(argv)).toThrow(message);
});
