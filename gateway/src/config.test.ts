import { ConfigError, parseConfig, type GatewayConfig } from "./config.js";

function parsed(argv: string[], env: Record<string, string> = {}): GatewayConfig {
  const c = parseConfig(argv, env);
  if (c === "help") throw new Error("unexpected help");
  return c;
}

test("defaults", () => {
  expect(parsed([])).toEqual({
    host: "0.0.0.0",
    httpPort: 8080,
    httpsPort: 0,
    tlsCertFile: undefined,
    tlsKeyFile: undefined,
    domain: "soulbox.test",
    healthPort: 8081,
    namespace: "default",
    apiKeysSecret: "soulbox-gateway-api-keys",
    defaultTimeoutSeconds: 300,
    maxTimeoutSeconds: 86400,
    createTimeoutSeconds: 120,
    rateLimit: 20,
    rateBurst: 40,
    maxBodyBytes: 1048576,
    auditLog: undefined,
    logLevel: "info",
    volumes: {
      storageClassName: "",
      accessMode: "ReadWriteOnce",
      size: "1Gi",
      contentTemplate: "base",
      contentIdleSeconds: 300,
    },
    memoryPause: "Freeze",
  });
});

test("flags and POD_NAMESPACE", () => {
  const c = parsed(
    [
      "--http-port=9000",
      "--tls-cert=/c.pem",
      "--tls-key=/k.pem",
      "--domain=Sbx.Example.COM",
      "--max-timeout-seconds=600",
      "--default-timeout-seconds=60",
      "--rate-limit=5",
      "--audit-log=/tmp/a.log",
      "--memory-pause=Memory",
    ],
    { POD_NAMESPACE: "soulbox-system" },
  );
  expect(c).toMatchObject({
    httpPort: 9000,
    httpsPort: 8443,
    tlsCertFile: "/c.pem",
    domain: "sbx.example.com",
    namespace: "soulbox-system",
    maxTimeoutSeconds: 600,
    defaultTimeoutSeconds: 60,
    rateLimit: 5,
    auditLog: "/tmp/a.log",
    memoryPause: "Memory",
  });
});

test("a small --max-timeout-seconds lowers the default timeout with it", () => {
  expect(parsed(["--max-timeout-seconds=100"]).defaultTimeoutSeconds).toBe(100);
});

test("--help", () => {
  expect(parseConfig(["--help"], {})).toBe("help");
});

test.each([
  [["--http-port=99999"], /--http-port must be an integer from 0 to 65535/],
  [["--http-port=abc"], /--http-port/],
  [["--domain=bad_domain"], /--domain must be a DNS name/],
  [["--domain=-x.test"], /--domain/],
  [["--namespace=Team_A"], /--namespace must be a namespace name/],
  [["--tls-cert=/c.pem"], /--tls-cert and --tls-key go together/],
  [["--log-level=loud"], /--log-level must be one of/],
  [["--default-timeout-seconds=700", "--max-timeout-seconds=600"], /must not exceed/],
  [["--rate-limit=0"], /--rate-limit/],
  [["--max-body-bytes=10"], /--max-body-bytes/],
  [["--audit-log="], /--audit-log must not be empty/],
  [["--memory-pause=memory"], /--memory-pause must be Freeze or Memory, got 'memory'/],
  [["--bogus"], /bogus/],
])("%j is refused: %s", (argv, message) => {
  expect(() => parseConfig(argv, {})).toThrow(ConfigError);
  expect(() => parseConfig(argv, {})).toThrow(message);
});
