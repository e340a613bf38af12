/**
 * The sandbox pod contract, as the operator's desiredPod writes it, on the real local node: an
 * envd sidecar (native sidecar init container, read-only root, no capabilities) places the
 * executor kit on the pod's shared volume; the template container runs the executor as its PID 1
 * with the kit's own loader.
 * From the test process (the host reaches pod IPs over the cluster bridge):
 * - a sandbox-base pod answers the official `e2b` SDK, runs commands as `user`, reads and writes
 *   files, and has what E2B's `base` template offers (bash, python, git, curl, tput, node 24,
 *   sudo, umask 022);
 * - a pod whose image is a static busybox and nothing else (no libc, no shell) still runs the
 *   executor: the kit carries its own runtime;
 * - the operator image (the same kit, no libc either) runs its bundle.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as k8s from "@kubernetes/client-node";
import { TOKEN_KEY, tokenSecretName } from "../../api/envd.js";
import { Process } from "../../api/gen/envd/process/process_pb.js";
import { sdkSandboxAt } from "../envd-sdk/sandbox.js";
import {
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "./test-support/cluster.js";
import { ENVD_PORT, contractPod } from "./test-support/sandbox-pod.js";

const BASE_IMAGE = "localhost/soulbox/sandbox-base:latest";
const BUSYBOX_IMAGE = "localhost/soulbox/busybox:latest";
const TOKEN = "test-token-0123456789abcdef";

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns: { name: string; dispose(): Promise<void> };

/** Creates the token Secret and the contract pod, waits until the pod is Ready; returns its IP. */
async function startSandboxPod(name: string, image: string, command?: string[]): Promise<string> {
  await waitFor("secret created", () =>
    core
      .createNamespacedSecret({
        namespace: ns.name,
        body: { metadata: { name: tokenSecretName(name) }, stringData: { [TOKEN_KEY]: TOKEN } },
      })
      .then(() => true),
  );
  // The namespace's default ServiceAccount comes from the controller-manager, moments after it.
  await waitFor("pod created", () =>
    core
      .createNamespacedPod({ namespace: ns.name, body: contractPod(name, image, command) })
      .then(() => true),
  );
  const pod = await waitFor(
    `pod ${name} Ready`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns.name });
      const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      return ready ? p : undefined;
    },
    120_000,
  ).catch(async (err: unknown) => {
    const p = await core.readNamespacedPod({ name, namespace: ns.name });
    const logs = await Promise.all(
      ["envd", "sandbox"].map((container) =>
        core.readNamespacedPodLog({ name, namespace: ns.name, container }).then(
          (l) => `--- ${container}\n${l}`,
          (e: unknown) => `--- ${container}: ${String(e)}`,
        ),
      ),
    );
    throw new Error(`${String(err)}\nstatus: ${JSON.stringify(p.status)}\n${logs.join("\n")}`);
  });
  const ip = pod.status?.podIP;
  if (!ip) throw new Error(`pod ${name} is Ready without an IP`);
  return ip;
}

/** A Process client straight at a pod's envd (Connect protocol), with the access token. */
function processClient(ip: string): Client<typeof Process> {
  return createClient(
    Process,
    createConnectTransport({
      baseUrl: `http://${ip}:${ENVD_PORT}`,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("X-Access-Token", TOKEN);
          return next(req);
        },
      ],
    }),
  );
}

/** Runs a command through Process.Start; returns its stdout and exit code. */
async function run(client: Client<typeof Process>, cmd: string, args: string[]) {
  let stdout = "";
  let exitCode: number | undefined;
  for await (const res of client.start({ process: { cmd, args } })) {
    const event = res.event?.event;
    if (event?.case === "data" && event.value.output.case === "stdout")
      stdout += Buffer.from(event.value.output.value).toString();
    if (event?.case === "end") exitCode = event.value.exitCode;
  }
  return { stdout, exitCode };
}

beforeAll(() => ensureNode(), 20 * 60_000);

beforeEach(async () => {
  ns = await testNamespace(kc, "envd-pod");
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
});

test("a sandbox-base pod per the contract serves the e2b SDK and has what E2B's base template has", async () => {
  const ip = await startSandboxPod("base", BASE_IMAGE, ["sleep", "infinity"]);
  const url = `http://${ip}:${ENVD_PORT}`;
  expect((await fetch(`${url}/health`)).status).toBe(204);
  expect((await fetch(`${url}/ready`)).status).toBe(204);
  // The token from the Secret reached envd: without it, files are refused.
  expect((await fetch(`${url}/files?path=/etc/hostname`)).status).toBe(401);

  const sandbox = sdkSandboxAt(url, TOKEN);
  const sh = async (cmd: string) => {
    const r = await sandbox.commands.run(cmd);
    return { out: r.stdout.trim(), exitCode: r.exitCode };
  };
  expect(await sh("echo hi")).toEqual({ out: "hi", exitCode: 0 });
  expect(await sh("whoami")).toEqual({ out: "user", exitCode: 0 });
  expect((await sh("python --version")).out).toMatch(/^Python 3\.\d+\.\d+$/);
  expect((await sh("python3 --version")).out).toMatch(/^Python 3\.\d+\.\d+$/);
  expect((await sh("node --version")).out).toMatch(/^v24\.\d+\.\d+$/);
  expect((await sh("command -v node")).out).toBe("/usr/local/bin/node");
  expect(await sh("sudo -n true && echo sudo-ok")).toEqual({ out: "sudo-ok", exitCode: 0 });
  expect((await sh("sudo -n whoami")).out).toBe("root");
  expect(await sh("echo $HOME; pwd; umask")).toEqual({
    out: "/home/user\n/home/user\n0022",
    exitCode: 0,
  });
  const tools = await sh(
    "for t in bash git curl tput; do command -v $t >/dev/null || echo missing $t; done",
  );
  expect(tools).toEqual({ out: "", exitCode: 0 });
  expect((await sh("git --version")).out).toMatch(/^git version 2\./);
  expect((await sh("curl --version")).out).toMatch(/^curl \d/);
  expect((await sh("tput -T xterm cols")).out).toMatch(/^\d+$/);

  // The executor is the container's PID 1, and the template's command runs beside it.
  expect((await sh("tr '\\0' ' ' < /proc/1/cmdline")).out).toBe(
    "/soulbox/kit/ld.so --library-path /soulbox/kit/lib /soulbox/kit/node --max-semi-space-size=1 /soulbox/kit/executor.mjs --socket /soulbox/run/executor.sock --inherit-env -- sleep infinity",
  );
  expect((await sh("pgrep -x sleep >/dev/null && echo running")).out).toBe("running");
  expect((await sh("cat /soulbox/kit/VERSION")).out).toMatch(/^[0-9a-f]{16}$/);

  await sandbox.files.write("/home/user/hello.txt", "hello from the test\n");
  expect(await sandbox.files.read("/home/user/hello.txt")).toBe("hello from the test\n");
  expect(await sh("stat -c '%U %a' /home/user/hello.txt")).toEqual({
    out: "user 644",
    exitCode: 0,
  });
}, 240_000);

test("a pod whose image is one static busybox (no libc, no shell) runs the executor from the kit", async () => {
  const ip = await startSandboxPod("bare", BUSYBOX_IMAGE);
  expect((await fetch(`http://${ip}:${ENVD_PORT}/health`)).status).toBe(204);
  const client = processClient(ip);
  expect(await run(client, "/bin/busybox", ["echo", "ok"])).toEqual({
    stdout: "ok\n",
    exitCode: 0,
  });
  // Nothing in the image but busybox: no loader, no libc, no /bin/sh.
  for (const path of ["/lib", "/lib64", "/usr", "/bin/sh"])
    expect(await run(client, "/bin/busybox", ["test", "-e", path])).toEqual({
      stdout: "",
      exitCode: 1,
    });
  expect((await run(client, "/bin/busybox", ["ls", "/bin"])).stdout).toBe("busybox\n");
}, 240_000);

test("the operator image runs its bundle with the kit's own loader (no libc in the image)", async () => {
  const name = "operator-help";
  await waitFor("pod created", () =>
    core
      .createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name },
          spec: {
            automountServiceAccountToken: false,
            restartPolicy: "Never",
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: "operator",
                image: "localhost/soulbox/operator:latest",
                imagePullPolicy: "IfNotPresent",
                args: ["--help"],
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
              },
            ],
          },
        },
      })
      .then(() => true),
  );
  const phase = await waitFor(
    "operator pod finished",
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns.name });
      const ph = p.status?.phase;
      return ph === "Succeeded" || ph === "Failed" ? ph : undefined;
    },
    120_000,
  );
  const log = await core.readNamespacedPodLog({ name, namespace: ns.name, container: "operator" });
  expect({ phase, log }).toEqual({
    phase: "Succeeded",
    log: expect.stringContaining("soulbox-operator"),
  });
}, 180_000);
