import type { Sandbox } from "../../../api/gen/crd-types.js";
import { createSandboxStreams, isGone } from "./sandbox-streams.js";

const sb = (deleting = false): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "a", ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: {},
});

test.each<[string, Sandbox | undefined, boolean]>([
  ["deleted (not in the cache)", undefined, true],
  ["being deleted", sb(true), true],
  ["running", sb(), false],
])("isGone: %s", (_name, s, gone) => {
  expect(isGone(s)).toBe(gone);
});

test("a deleted sandbox's exchanges are cut once; others and released ones are not", () => {
  const streams = createSandboxStreams();
  const cut: string[] = [];
  const releaseA1 = streams.track("a", () => cut.push("a1"));
  streams.track("a", () => cut.push("a2"));
  const releaseA3 = streams.track("a", () => cut.push("a3"));
  streams.track("b", () => cut.push("b1"));
  releaseA3();
  expect(streams.size).toBe(3);

  streams.changed("a", sb()); // an update of a running sandbox: nothing happens
  expect(cut).toEqual([]);
  streams.changed("a", sb(true));
  expect(cut).toEqual(["a1", "a2"]);
  expect(streams.size).toBe(1);
  releaseA1(); // the response's close event after the cut: already counted
  streams.changed("a", undefined); // the delete event after the deletion mark: nothing left
  expect(cut).toEqual(["a1", "a2"]);
  expect(streams.size).toBe(1);
  streams.changed("b", undefined);
  expect(cut).toEqual(["a1", "a2", "b1"]);
  expect(streams.size).toBe(0);
});

test("a cut that throws does not stop the others", () => {
  const streams = createSandboxStreams();
  const cut: string[] = [];
  streams.track("a", () => {
    throw new Error("already closed");
  });
  streams.track("a", () => cut.push("second"));
  streams.changed("a", undefined);
  expect(cut).toEqual(["second"]);
  expect(streams.size).toBe(0);
});
