/**
 * Memory snapshots on the local node (kubelet 1.34 checkpoint API, containerd 2.2 with
 * `enable_experimental_restore_via_create`, runc, CRIU 4): a sandbox pod as the operator writes it
 * runs a counting loop, a Python REPL, a shell in a terminal and a process holding ~100 MiB,
 * through envd; the node agent's memory modules quiet the executor's link, checkpoint the sandbox
 * container (kubelet → archive; the pod goes on serving), turn the archive into a checkpoint image
 * in containerd; the pod is deleted (a pause) and a new sandbox pod whose sandbox container names
 * the checkpoint image is created (a resume). The counter goes on from where it was under the same
 * pid, the REPL and the shell still have their variables, envd reaches the restored executor; a
 * second cycle from the restored pod does the same. Times and sizes are printed.
 *
 * What runs here is the runc handler under every RuntimeClass name (`kata` included: see
 * templates/runtime-classes.yaml.tmpl), so the refusal of a real Kata container is proven by the
 * unit test of its decision (node-agent/src/memory/runtime-support.test.ts).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as k8s from "@kubernetes/client-node";
import { TOKEN_KEY, tokenSecretName } from "../../api/envd.js";
import { Process } from "../../api/gen/envd/process/process_pb.js";
import {
  ensureNode,
  kubeConfig,
  testNamespace,
  waitFor,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../cluster/test-support/cluster.js";
import { ENVD_PORT, contractPod } from "../cluster/test-support/sandbox-pod.js";
import type { KubeletEndpoint } from "../../node-agent/src/memory/checkpoint.js";
import {
  removeCheckpointImage,
  type ContainerdClient,
} from "../../node-agent/src/memory/checkpoint-image.js";
import {
  buildCheckpointImage,
  takeMemoryCheckpoint,
  wakeRestored,
} from "../../node-agent/src/memory/memory-checkpoint.js";
import { containerdId } from "../../node-agent/src/memory/quiet.js";

const BASE_IMAGE = "localhost/soulbox/sandbox-base:latest";
const TOKEN = "test-token-0123456789abcdef";
const NODE = "soulbox-node";
/** The executor's socket in the sandbox container (operator/src/sandbox/desired-pod.ts). */
const EXECUTOR_SOCKET = "/soulbox/run/executor.sock";
const BIN = fileURLToPath(new URL("../cluster/.bin/", import.meta.url));

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
let ns: { name: string; dispose(): Promise<void> };
let work: string;

function stateDir(): string {
  const dir = process.env.SOULBOX_CLUSTER_DIR;
  if (!dir)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the memory tests need jest's global setup");
  return dir;
}

/** The local kubelet, with the cluster's admin client certificate (the kubelet's client CA signed it). */
async function kubelet(): Promise<KubeletEndpoint> {
  const pki = join(stateDir(), "pki");
  const port = (await readFile(join(stateDir(), "kubelet.port"), "utf8")).trim();
  const node = await core.readNode({ name: NODE });
  const ip = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  if (!ip) throw new Error(`node ${NODE} has no InternalIP`);
  return {
    url: `https://${ip}:${port}`,
    ca: await readFile(join(pki, "ca.crt")),
    cert: await readFile(join(pki, "admin.crt")),
    key: await readFile(join(pki, "admin.key")),
  };
}

const containerd = (): ContainerdClient => ({
  ctr: join(BIN, "ctr"),
  address: join(stateDir(), "containerd", "containerd.sock"),
});

/** The containerd id of pod `name`'s sandbox container, once it runs. */
async function sandboxContainerId(name: string): Promise<string> {
  return waitFor(
    `pod ${name}'s sandbox container running`,
    async () => {
      const p = await core.readNamespacedPod({ name, namespace: ns.name });
      const c = p.status?.containerStatuses?.find((s) => s.name === "sandbox");
      return c?.state?.running && c.containerID ? containerdId(c.containerID) : undefined;
    },
    120_000,
  );
}

/**
 * Creates the pod `name` (sandbox container image `image`), waits until it is Ready; returns its
 * IP. A restored executor wakes up quiet: it is told to listen again once its container runs.
 */
async function startSandboxPod(name: string, image: string, restored = false): Promise<string> {
  await core.createNamespacedPod({ namespace: ns.name, body: contractPod(name, image) });
  if (restored) await wakeRestored(containerd(), await sandboxContainerId(name));
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

async function deletePod(name: string): Promise<void> {
  await core.deleteNamespacedPod({ name, namespace: ns.name, gracePeriodSeconds: 0 });
  await waitFor(
    `pod ${name} gone`,
    () =>
      core.readNamespacedPod({ name, namespace: ns.name }).then(
        () => undefined,
        (e: unknown) => (e instanceof k8s.ApiException && e.code === 404 ? true : undefined),
      ),
    60_000,
  );
}

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

/** Runs a command to its end; returns its stdout. */
async function run(client: Client<typeof Process>, cmd: string): Promise<string> {
  let stdout = "";
  for await (const res of client.start({ process: { cmd: "bash", args: ["-c", cmd] } })) {
    const event = res.event?.event;
    if (event?.case === "data" && event.value.output.case === "stdout")
      stdout += Buffer.from(event.value.output.value).toString();
  }
  return stdout;
}

/**
 * Starts a long-running process and leaves it running (the request ends, the process does not);
 * returns its pid. `io`: "stdin" opens its stdin, "pty" runs it in a terminal.
 */
async function startBackground(
  client: Client<typeof Process>,
  cmd: string,
  args: string[],
  io?: "stdin" | "pty",
): Promise<number> {
  const abort = new AbortController();
  try {
    for await (const res of client.start(
      {
        process: { cmd, args },
        stdin: io === "stdin",
        ...(io === "pty" ? { pty: { size: { cols: 120, rows: 30 } } } : {}),
      },
      { signal: abort.signal },
    )) {
      const event = res.event?.event;
      if (event?.case === "start") return event.value.pid;
    }
  } finally {
    abort.abort();
  }
  throw new Error(`${cmd} ended before it started`);
}

/**
 * Sends `line` to `pid`'s stdin (or its terminal), then reads its stdout (or terminal) through
 * Connect until `expect` shows; resolves to what was read (without `expect` after 20 s).
 */
async function converse(
  client: Client<typeof Process>,
  pid: number,
  line: string,
  expect: string,
  channel: "stdin" | "pty" = "stdin",
): Promise<string> {
  const output = channel === "pty" ? "pty" : "stdout";
  const abort = new AbortController();
  let out = "";
  const reading = (async () => {
    for await (const res of client.connect(
      { process: { selector: { case: "pid", value: pid } } },
      { signal: abort.signal },
    )) {
      const event = res.event?.event;
      if (event?.case === "data" && event.value.output.case === output) {
        out += Buffer.from(event.value.output.value).toString();
        if (out.includes(expect)) return;
      }
    }
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) throw err;
  });
  await client.sendInput({
    process: { selector: { case: "pid", value: pid } },
    input: { input: { case: channel, value: new TextEncoder().encode(line) } },
  });
  const timer = setTimeout(() => abort.abort(), 20_000);
  try {
    await reading;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return out;
}

const counterValue = async (client: Client<typeof Process>) =>
  Number((await run(client, "cat /tmp/counter")).trim());

/**
 * One pause/resume: checkpoint `from`'s sandbox container (it goes on serving: a snapshot leaves
 * it running), build and import the checkpoint image, delete `from`, start `to` from the image.
 */
async function checkpointAndRestore(from: string, to: string, fromClient: Client<typeof Process>) {
  const containerId = await sandboxContainerId(from);
  const t0 = Date.now();
  const taken = await takeMemoryCheckpoint(
    { kubelet: await kubelet(), containerd: containerd() },
    {
      namespace: ns.name,
      pod: from,
      container: "sandbox",
      containerId,
      executorSocket: EXECUTOR_SOCKET,
    },
  );
  const checkpointMs = Date.now() - t0;
  // The checkpointed sandbox serves again and its processes go on.
  const seen = await counterValue(fromClient);
  await waitFor("counter moving after the checkpoint", async () =>
    (await counterValue(fromClient)) > seen ? true : undefined,
  );
  const ref = `localhost/soulbox/checkpoint/${ns.name}-${from}:${Date.now().toString(36)}`;
  const t1 = Date.now();
  const image = await buildCheckpointImage(containerd(), taken.archive, {
    ref,
    container: "sandbox",
    pod: from,
    namespace: ns.name,
    rootfsImage: BASE_IMAGE,
  });
  const imageMs = Date.now() - t1;
  await deletePod(from);
  const t2 = Date.now();
  const ip = await startSandboxPod(to, ref, true);
  const restoreMs = Date.now() - t2;
  // The restored container holds what it needs: the image can go (as a Snapshot's cleanup would).
  await removeCheckpointImage(containerd(), ref);
  await removeCheckpointImage(containerd(), ref); // idempotent
  console.log(
    `memory snapshot ${from} → ${to}: checkpoint ${checkpointMs} ms (quiet ${taken.quietMs} ms, kubelet ${taken.checkpointMs} ms), ` +
      `archive ${(image.layerSize / 2 ** 20).toFixed(1)} MiB, image build+import ${imageMs} ms, restore to Ready ${restoreMs} ms`,
  );
  return ip;
}

beforeAll(() => ensureNode(), 20 * 60_000);

beforeEach(async () => {
  ns = await testNamespace(kc, "memory");
  work = await mkdtemp(join(tmpdir(), "soulbox-memory-"));
  // One token for the pods of all cycles (the operator keeps a sandbox's token across a resume).
  for (const name of ["first", "second", "third"])
    await waitFor("secret created", () =>
      core
        .createNamespacedSecret({
          namespace: ns.name,
          body: { metadata: { name: tokenSecretName(name) }, stringData: { [TOKEN_KEY]: TOKEN } },
        })
        .then(() => true),
    );
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
  await rm(work, { recursive: true, force: true });
});

test("a counting loop, a Python REPL and a terminal survive two checkpoint → restore cycles into new pods", async () => {
  let ip = await startSandboxPod("first", BASE_IMAGE);
  let client = processClient(ip);
  const counter = await startBackground(client, "bash", [
    "-c",
    "i=0; while true; do echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; i=$((i+1)); sleep 0.05; done",
  ]);
  const repl = await startBackground(client, "python3", ["-u", "-i", "-q"], "stdin");
  const terminal = await startBackground(client, "bash", ["-i"], "pty");
  // A listening TCP socket (bound to every address, as servers in sandboxes are).
  await startBackground(client, "python3", ["-m", "http.server", "8000", "-d", "/tmp"]);
  // About 100 MiB of touched memory, so the archive size and times printed are for that much.
  await startBackground(client, "python3", [
    "-c",
    "import time; b = bytearray(100 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(1e9)",
  ]);
  expect(await converse(client, repl, "x = 41; print('set', x)\n", "set 41")).toContain("set 41");
  expect(await converse(client, terminal, "y=6\n", "y=6", "pty")).toContain("y=6");
  await waitFor("counter past 20", async () =>
    (await counterValue(client)) > 20 ? true : undefined,
  );

  await waitFor("http.server answering", () =>
    fetch(`http://${ip}:8000/counter`).then(
      (r) => (r.ok ? true : undefined),
      () => undefined,
    ),
  );

  for (const [from, to] of [
    ["first", "second"],
    ["second", "third"],
  ] as const) {
    const before = await counterValue(client);
    ip = await checkpointAndRestore(from, to, client);
    client = processClient(ip);
    // The same processes, going on from their memory: the counter never went back to 0.
    const after = await counterValue(client);
    expect(after).toBeGreaterThanOrEqual(before);
    await waitFor("counter moving", async () =>
      (await counterValue(client)) > after + 5 ? true : undefined,
    );
    // Under the pids they had (CRIU restores them in the new pod's pid namespace).
    expect((await run(client, `kill -0 ${repl} && kill -0 ${counter} && echo alive`)).trim()).toBe(
      "alive",
    );
    const x = from === "first" ? 42 : 43;
    expect(await converse(client, repl, "x += 1; print('now', x)\n", `now ${x}`)).toContain(
      `now ${x}`,
    );
    // The server listens in the new pod's network namespace, reached at its new IP.
    const served = await fetch(`http://${ip}:8000/counter`);
    expect(served.status).toBe(200);
    expect(Number((await served.text()).trim())).toBeGreaterThan(after);
    // A terminal (the container's own devpts) keeps its shell and the shell its variable.
    expect(await converse(client, terminal, "echo pty-$((y*7))\n", "pty-42", "pty")).toContain(
      "pty-42",
    );
  }
}, 600_000);
