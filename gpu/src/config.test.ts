import { ConfigError, parseConfig } from "./config.js";

test("defaults", () => {
  expect(parseConfig([], {})).toEqual({
    nvidiaSmi: "nvidia-smi",
    pluginDir: "/var/lib/kubelet/device-plugins",
    resourceName: "nvidia.com/gpu",
    socketName: "soulbox-gpu.sock",
    cdi: false,
    mounts: [],
    healthIntervalMs: 5000,
    logLevel: "info",
    discoverOnly: false,
  });
});

test("a fake inventory of 8 on a named node (from NODE_NAME)", () => {
  expect(
    parseConfig(["--fake-inventory", "/tmp/x", "--fake-gpus", "8", "--mount", "/a:/b"], {
      NODE_NAME: "n1",
    }),
  ).toMatchObject({
    fakeInventory: "/tmp/x",
    fakeGpus: 8,
    nodeName: "n1",
    mounts: [{ hostPath: "/a", containerPath: "/b" }],
  });
});

test.each([
  [["--fake-gpus", "8"], "--fake-gpus needs --fake-inventory DIR"],
  [
    ["--fake-inventory", "/x", "--fake-gpus", "0"],
    "--fake-gpus must be a whole number from 1 to 64, got '0'",
  ],
  [
    ["--fake-inventory", "/x", "--fake-gpus", "65"],
    "--fake-gpus must be a whole number from 1 to 64, got '65'",
  ],
  [["--socket-name", "../k.sock"], "--socket-name must be a file name ending in .sock"],
  [["--resource-name", "gpu"], "--resource-name must be a domain-qualified name"],
  [["--mount", "relative:/x"], "--mount must be HOST:CONTAINER with absolute paths"],
  [["--health-interval-ms", "0"], "--health-interval-ms must be a whole number"],
  [["--log-level", "loud"], "--log-level must be one of"],
  [["--bogus"], "Unknown option '--bogus'"],
])("%j is refused", (argv, message) => {
  expect(() => parseConfig(argv, {})).toThrow(ConfigError);
  expect(() => parseConfig(argv, {})).toThrow(message);
});
