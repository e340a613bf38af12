import type { Snapshot } from "../../../api/gen/crd-types.js";
import { ApiError } from "./errors.js";
import { encodeCursor } from "./list-query.js";
import {
  listedSnapshots,
  looksLikeSnapshotRef,
  matchesRef,
  parseSnapshotListQuery,
  parseSnapshotRef,
  parseSnapshotRequest,
  snapshotSource,
  toSnapshotInfo,
  type SnapshotRef,
} from "./snapshots-names.js";

const TEAM = "team-a";

const refusal = (f: () => unknown): { status: number; message: string } | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, message: err.message };
  }
};

/** A Snapshot as the API server would hold it. */
function snap(
  name: string,
  over: {
    alias?: string;
    tag?: string;
    kind?: string;
    phase?: "Pending" | "InProgress" | "Ready" | "Failed";
    sandbox?: string;
    created?: string;
    annotations?: Record<string, string>;
    template?: unknown;
  } = {},
): Snapshot {
  const labels: Record<string, string> = { "soulbox.dev/snapshot-kind": over.kind ?? "named" };
  const annotations: Record<string, string> = { ...over.annotations };
  if (over.alias !== undefined) {
    labels["soulbox.dev/snapshot-name"] = over.alias;
    labels["soulbox.dev/snapshot-tag"] = over.tag ?? "default";
    annotations["soulbox.dev/snapshot-name"] = over.alias;
  }
  const s: Snapshot = {
    apiVersion: "soulbox.dev/v1alpha1",
    kind: "Snapshot",
    metadata: {
      name,
      namespace: TEAM,
      labels,
      annotations,
      creationTimestamp: new Date(over.created ?? "2026-01-01T00:00:00Z"),
    },
    spec: { sandbox: over.sandbox ?? "sbx1" },
    status: { phase: over.phase ?? "Ready" },
  };
  if (over.template !== undefined && s.status) s.status.template = over.template;
  return s;
}

test.each<[string, SnapshotRef]>([
  ["my-snap", { alias: "my-snap" }],
  ["  My-Snap  ", { alias: "my-snap" }],
  ["my_snap:v1", { alias: "my_snap", tag: "v1" }],
  ["my-snap:default", { alias: "my-snap", tag: "default" }],
  [`${TEAM}/my-snap`, { alias: "my-snap" }],
  [`${TEAM}/my-snap:v1.2`, { alias: "my-snap", tag: "v1.2" }],
  ["abc123def456ghi789jk:default", { alias: "abc123def456ghi789jk", tag: "default" }],
])("parses %j", (input, ref) => {
  expect(parseSnapshotRef(input, TEAM, "Invalid name")).toEqual(ref);
});

test.each([
  ["other-team/my-snap", "Invalid name: namespace 'other-team' must match your team 'team-a'"],
  ["my snap", "Invalid name: invalid template ID: my snap"],
  ["my-snap:", "Invalid name: invalid tag: "],
  ["my-snap:v/1", "Invalid name: invalid tag: v/1"],
  ["", "Invalid name: invalid template ID: "],
  ["bad!ns/x", "Invalid name: invalid namespace: bad!ns"],
])("refuses %j with E2B's message", (input, message) => {
  expect(refusal(() => parseSnapshotRef(input, TEAM, "Invalid name"))).toEqual({
    status: 400,
    message,
  });
});

test.each([
  ["base", false],
  ["team-a/snap", true],
  ["snap:default", true],
  [42, false],
  [undefined, false],
])("looksLikeSnapshotRef(%j) is %j", (v, expected) => {
  expect(looksLikeSnapshotRef(v)).toBe(expected);
});

test.each<[string, Snapshot, SnapshotRef, boolean, boolean]>([
  ["its id", snap("id1"), { alias: "id1" }, false, true],
  ["its id with the default tag", snap("id1"), { alias: "id1", tag: "default" }, false, true],
  ["its id with another tag", snap("id1"), { alias: "id1", tag: "v1" }, true, false],
  ["its name", snap("id1", { alias: "s" }), { alias: "s" }, false, true],
  ["its name, tag v1 asked", snap("id1", { alias: "s", tag: "v1" }), { alias: "s" }, false, false],
  ["its name, any tag", snap("id1", { alias: "s", tag: "v1" }), { alias: "s" }, true, true],
  ["name and tag", snap("id1", { alias: "s", tag: "v1" }), { alias: "s", tag: "v1" }, false, true],
  ["another name", snap("id1", { alias: "s" }), { alias: "t" }, true, false],
])("matchesRef: %s", (_what, s, ref, anyTag, expected) => {
  expect(matchesRef(s, ref, anyTag)).toBe(expected);
});

test.each([
  [snap("id1"), { snapshotID: "id1:default", names: [] }],
  [snap("id1", { alias: "s" }), { snapshotID: `${TEAM}/s:default`, names: [`${TEAM}/s`] }],
  [snap("id1", { alias: "s", tag: "v2" }), { snapshotID: `${TEAM}/s:v2`, names: [`${TEAM}/s`] }],
])("SnapshotInfo of %#", (s, info) => {
  expect(toSnapshotInfo(s, TEAM)).toEqual(info);
});

test.each([
  [{ memory: true }, { memory: true }],
  [
    { memory: true, name: "snap" },
    { memory: true, name: { alias: "snap", tag: "default" } },
  ],
  [{ memory: false }, {}],
])("with memory snapshots on, snapshot request %j", (body, expected) => {
  expect(parseSnapshotRequest(body, TEAM, true)).toEqual(expected);
});

test.each([
  [{}, {}],
  [{ memory: false }, {}],
  [{ memory: null, name: null }, {}],
  [{ name: "snap" }, { name: { alias: "snap", tag: "default" } }],
  [{ name: `${TEAM}/snap:v1` }, { name: { alias: "snap", tag: "v1" } }],
])("snapshot request %j", (body, expected) => {
  expect(parseSnapshotRequest(body, TEAM)).toEqual(expected);
});

test.each([
  [{ memory: true }, /memory snapshots are off on this SoulBox .*gateway.memoryPause: Memory/],
  [{ memory: "no" }, /memory must be true or false/],
  [{ name: 5 }, /name must be a string/],
  [{ name: "x/snap" }, /^Invalid name: namespace 'x' must match your team/],
])("refuses the snapshot request %j", (body, message) => {
  const r = refusal(() => parseSnapshotRequest(body, TEAM));
  expect(r?.status).toBe(400);
  expect(r?.message).toMatch(message);
});

test.each([
  [{}, { limit: 100 }],
  [
    { limit: "5", sandboxID: "abc123" },
    { limit: 5, sandboxID: "abc123" },
  ],
  [{ name: "snap:v1" }, { limit: 100, name: { alias: "snap", tag: "v1" } }],
  [
    { nextToken: encodeCursor({ startedAtMs: 5, id: "id1" }) },
    { limit: 100, after: { startedAtMs: 5, id: "id1" } },
  ],
])("list query %j", (q, expected) => {
  expect(parseSnapshotListQuery(q, TEAM)).toEqual(expected);
});

test.each([
  [{ limit: "0" }, /limit must be a whole number from 1 to 100/],
  [{ limit: "101" }, /limit must be a whole number from 1 to 100/],
  [{ limit: "x" }, /limit must be a whole number/],
  [{ nextToken: "garbage" }, /nextToken 'garbage' is not a token from this API/],
  [{ sandboxID: "Not-An-Id" }, /^Invalid sandbox ID$/],
  [{ name: "other/x" }, /^Invalid name: namespace 'other' must match/],
])("refuses the list query %j", (q, message) => {
  const r = refusal(() => parseSnapshotListQuery(q, TEAM));
  expect(r?.status).toBe(400);
  expect(r?.message).toMatch(message);
});

test("the list shows Ready named snapshots, the newest of each name and tag, filtered", () => {
  const all = [
    snap("a1", { alias: "s", created: "2026-01-01T00:00:01Z" }),
    snap("a2", { alias: "s", created: "2026-01-01T00:00:02Z" }), // takes the name over
    snap("b1", { alias: "s", tag: "v1", sandbox: "sbx2" }),
    snap("c1"),
    snap("d1", { phase: "InProgress" }),
    snap("e1", { phase: "Failed", alias: "t" }),
    snap("f1", { kind: "fork" }),
  ];
  const names = (q: Parameters<typeof listedSnapshots>[1]) =>
    listedSnapshots(all, q)
      .map((s) => s.metadata.name)
      .sort();
  expect(names({ limit: 100 })).toEqual(["a2", "b1", "c1"]);
  expect(names({ limit: 100, sandboxID: "sbx2" })).toEqual(["b1"]);
  expect(names({ limit: 100, name: { alias: "s" } })).toEqual(["a2", "b1"]);
  expect(names({ limit: 100, name: { alias: "s", tag: "default" } })).toEqual(["a2"]);
  expect(names({ limit: 100, name: { alias: "c1" } })).toEqual(["c1"]);
  expect(names({ limit: 100, name: { alias: "t" } })).toEqual([]);
});

test.each([
  [
    "recorded by the gateway",
    snap("id1", {
      annotations: {
        "soulbox.dev/template-id": "base",
        "soulbox.dev/size": '{"cpuCount":2,"memoryMB":512,"diskSizeMB":0}',
      },
    }),
    { templateID: "base", size: { cpuCount: 2, memoryMB: 512, diskSizeMB: 0 } },
  ],
  [
    "from the operator's template",
    snap("id1", { template: { image: "x", resources: { limits: { cpu: "3", memory: "1Gi" } } } }),
    { templateID: "id1", size: { cpuCount: 3, memoryMB: 1024, diskSizeMB: 0 } },
  ],
  [
    "nothing recorded",
    snap("id1", { annotations: { "soulbox.dev/size": "{broken" } }),
    { templateID: "id1", size: { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 } },
  ],
])("snapshotSource: %s", (_what, s, expected) => {
  expect(snapshotSource(s)).toEqual(expected);
});
