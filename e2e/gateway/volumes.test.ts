/**
 * E2B volumes through a chart-installed gateway, with the official `e2b` SDK's `Volume` and
 * `Sandbox` unchanged: a volume is a PersistentVolumeClaim of the team, bound by the local
 * cluster's local-path-provisioner; a file one sandbox writes is read by the next; the volume
 * content API reads and writes files without a sandbox of the user's; bad volumeMounts and ids
 * answer E2B's statuses and bodies and create nothing.
 */
import { Sandbox, Volume, VolumePathNotFoundError } from "e2b";
import { readFileSync } from "node:fs";
import tls from "node:tls";
import * as k8s from "@kubernetes/client-node";
import { ensureNode, kubeConfig } from "../cluster/test-support/cluster.js";
import { installGatewayRelease, type GatewayRelease } from "./release.js";

const SDK_VARS = ["E2B_API_URL", "E2B_API_KEY", "E2B_DOMAIN"] as const;
const saved = Object.fromEntries(SDK_VARS.map((k) => [k, process.env[k]]));
const defaultCas = tls.getCACertificates("default");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let gw: GatewayRelease;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;

/** A raw call to the REST API with the team's key; status and parsed body. */
async function api(method: string, path: string, body?: unknown, key = gw.env.E2B_API_KEY) {
  const res = await fetch(`${gw.env.E2B_API_URL}${path}`, {
    method,
    headers: {
      "X-API-Key": key ?? "",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

const sandboxNames = async () =>
  (
    (await custom.listNamespacedCustomObject({
      group: "soulbox.dev",
      version: "v1alpha1",
      namespace: gw.namespace,
      plural: "sandboxes",
    })) as { items: { metadata: { name: string } }[] }
  ).items.map((s) => s.metadata.name);

async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  await ensureNode();
  gw = await installGatewayRelease(kubeConfig());
  for (const k of SDK_VARS) {
    const v = gw.env[k];
    if (!v) throw new Error(`e2e/cluster/env printed no ${k}`);
    process.env[k] = v;
  }
  const ca = readFileSync(gw.env.NODE_EXTRA_CA_CERTS ?? "", "utf8");
  tls.setDefaultCACertificates([...defaultCas, ca]);
  core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  custom = kubeConfig().makeApiClient(k8s.CustomObjectsApi);
}, 300_000);

afterAll(async () => {
  tls.setDefaultCACertificates(defaultCas);
  for (const k of SDK_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await gw?.uninstall();
}, 180_000);

test("a file written by one sandbox is read by the next; the content API reads and writes without one", async () => {
  const name = `data-${Date.now().toString(36)}`;
  const vol = await Volume.create(name);
  expect(vol.volumeId).toMatch(UUID);
  expect(vol.name).toBe(name);
  expect(vol.token).not.toBe("");
  // The volume is a claim of the team, not owned by anything.
  const claim = await core.readNamespacedPersistentVolumeClaim({
    namespace: gw.namespace,
    name: `volume-${vol.volumeId}`,
  });
  expect(claim.metadata?.ownerReferences ?? []).toEqual([]);
  expect(claim.metadata?.annotations?.["soulbox.dev/volume-name"]).toBe(name);

  const a = await Sandbox.create("base", { volumeMounts: { "/data": vol }, timeoutMs: 120_000 });
  try {
    await a.files.write("/data/note.txt", "written by sandbox A");
    await a.commands.run("mkdir -p /data/sub && echo from-a-command > /data/sub/cmd.txt");
  } finally {
    await a.kill();
  }
  await waitUntil("sandbox A gone", async () => !(await sandboxNames()).includes(a.sandboxId));
  // The claim was bound by the cluster's provisioner and outlives the sandbox.
  const bound = await core.readNamespacedPersistentVolumeClaim({
    namespace: gw.namespace,
    name: `volume-${vol.volumeId}`,
  });
  expect(bound.status?.phase).toBe("Bound");
  expect(bound.metadata?.deletionTimestamp).toBeUndefined();

  // The content API, with the volume's own token (no sandbox of the user's).
  expect(await vol.readFile("/note.txt")).toBe("written by sandbox A");
  expect(await vol.readFile("sub/cmd.txt")).toBe("from-a-command\n");
  const written = await vol.writeFile("/from-api.txt", "written by the content API");
  expect(written).toMatchObject({ name: "from-api.txt", path: "/from-api.txt", type: "file" });
  expect(written.size).toBe("written by the content API".length);
  const dir = await vol.makeDir("/made/deep", { force: true, mode: 0o750 });
  expect(dir).toMatchObject({ path: "/made/deep", type: "directory", mode: 0o750 });
  expect((await vol.list("/")).map((e) => e.name).sort()).toEqual(
    ["from-api.txt", "made", "note.txt", "sub"].sort(),
  );
  expect((await vol.list("/", { depth: 2 })).map((e) => e.path)).toContain("/made/deep");
  expect(await vol.exists("/note.txt")).toBe(true);
  expect(await vol.exists("/nope.txt")).toBe(false);
  await expect(vol.readFile("/nope.txt")).rejects.toBeInstanceOf(VolumePathNotFoundError);
  await expect(vol.writeFile("/no/parent.txt", "x")).rejects.toBeInstanceOf(
    VolumePathNotFoundError,
  );
  const meta = await vol.updateMetadata("/from-api.txt", { uid: 1000, gid: 1000, mode: 0o600 });
  expect(meta).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600 });
  await vol.remove("/made");
  expect(await vol.exists("/made/deep")).toBe(false);
  // A bad token opens nothing.
  const forged = new Volume(vol.volumeId, vol.name, `${vol.token}x`);
  await expect(forged.readFile("/note.txt")).rejects.toThrow(/not valid/);

  // Sandbox B, mounting the volume by name, sees what A and the content API wrote.
  const b = await Sandbox.create("base", {
    volumeMounts: { "/mnt/vol": name },
    timeoutMs: 120_000,
  });
  try {
    expect(await b.files.read("/mnt/vol/note.txt")).toBe("written by sandbox A");
    expect(await b.files.read("/mnt/vol/from-api.txt")).toBe("written by the content API");
    expect((await b.commands.run("stat -c %u:%a /mnt/vol/from-api.txt")).stdout.trim()).toBe(
      "1000:600",
    );
  } finally {
    await b.kill();
  }

  // The content sandbox is nobody's sandbox: lists leave it out.
  const listed = (await api("GET", "/v2/sandboxes?state=running,paused")).body as {
    sandboxID: string;
  }[];
  expect(listed.some((s) => s.sandboxID.startsWith("vc-"))).toBe(false);

  // Delete: 204, then the claim and the content sandbox go; a second delete is E2B's 404.
  expect(await Volume.destroy(vol.volumeId)).toBe(true);
  await waitUntil("the claim deleted", async () => {
    const left = await core.listNamespacedPersistentVolumeClaim({ namespace: gw.namespace });
    return !left.items.some((c) => c.metadata?.name === `volume-${vol.volumeId}`);
  });
  await waitUntil(
    "the content sandbox deleted",
    async () => !(await sandboxNames()).some((n) => n.startsWith("vc-")),
  );
  expect(await Volume.destroy(vol.volumeId)).toBe(false);
  expect(await api("DELETE", `/volumes/${vol.volumeId}`)).toEqual({
    status: 404,
    body: { code: 404, message: "Volume not found" },
  });
}, 600_000);

test("list, get and create answer E2B's bodies; bad names and ids E2B's 400 and 404", async () => {
  const name = `listed-${Date.now().toString(36)}`;
  const created = await api("POST", "/volumes", { name });
  expect(created.status).toBe(201);
  const v = created.body as { volumeID: string; name: string; token: string };
  expect(Object.keys(v).sort()).toEqual(["name", "token", "volumeID"]);
  expect(v.name).toBe(name);
  try {
    const got = await api("GET", `/volumes/${v.volumeID}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ volumeID: v.volumeID, name });
    const listed = await api("GET", "/volumes");
    expect(listed.status).toBe(200);
    expect(listed.body).toContainEqual({ volumeID: v.volumeID, name });
    expect((await Volume.list()).map((x) => x.volumeId)).toContain(v.volumeID);
    expect(await api("POST", "/volumes", { name })).toEqual({
      status: 400,
      body: { code: 400, message: `Volume with name '${name}' already exists` },
    });
    // Another team's key sees no such volume.
    const other = gw.createKey(gw.otherTeam);
    expect(await api("GET", `/volumes/${v.volumeID}`, undefined, other)).toEqual({
      status: 404,
      body: { code: 404, message: "Volume not found" },
    });
    expect((await api("GET", "/volumes", undefined, other)).body).toEqual([]);
  } finally {
    expect((await api("DELETE", `/volumes/${v.volumeID}`)).status).toBe(204);
  }
  for (const bad of ["bad name", "", "dot.ted"])
    expect(await api("POST", "/volumes", { name: bad })).toEqual({
      status: 400,
      body: { code: 400, message: "Invalid volume name" },
    });
  expect(await api("GET", "/volumes/not-a-uuid")).toEqual({
    status: 400,
    body: { code: 400, message: "Invalid volume ID" },
  });
  expect(await api("GET", "/volumes/00000000-0000-4000-8000-000000000000")).toEqual({
    status: 404,
    body: { code: 404, message: "Volume not found" },
  });
}, 120_000);

test("bad volumeMounts are E2B's 400 and create nothing", async () => {
  const name = `mounts-${Date.now().toString(36)}`;
  const v = (await api("POST", "/volumes", { name })).body as { volumeID: string };
  try {
    const before = await sandboxNames();
    const cases: [unknown, string][] = [
      [
        [{ name: "no-such-volume", path: "/data" }],
        "invalid mounts:\n\t- volume mount #0: volume 'no-such-volume' not found",
      ],
      [[{ name, path: "data" }], "invalid mounts:\n\t- volume mount #0: path must be absolute"],
      [
        [
          { name, path: "/data" },
          { name, path: "/data" },
        ],
        "invalid mounts:\n\t- volume mount #1: path '/data' is already used",
      ],
      [
        [{ name, path: "/proc" }],
        "invalid mounts:\n\t- volume mount #0: path '/proc' is reserved: nothing may be mounted at or under /proc",
      ],
    ];
    for (const [volumeMounts, message] of cases)
      expect(await api("POST", "/sandboxes", { templateID: "base", volumeMounts })).toEqual({
        status: 400,
        body: { code: 400, message },
      });
    expect(await sandboxNames()).toEqual(before);
    const secrets = await core.listNamespacedSecret({ namespace: gw.namespace });
    expect(secrets.items.filter((s) => s.metadata?.name?.endsWith("-env"))).toEqual([]);
  } finally {
    await api("DELETE", `/volumes/${v.volumeID}`);
  }
}, 120_000);
