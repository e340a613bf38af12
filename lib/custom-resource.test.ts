import { SandboxResource, SnapshotResource } from "../api/gen/crd-types.js";
import { customObjectRef, customResourcePath } from "./custom-resource.js";

test.each([
  ["Sandbox", SandboxResource, undefined, "/apis/soulbox.dev/v1alpha1/sandboxes"],
  ["Sandbox", SandboxResource, "team-a", "/apis/soulbox.dev/v1alpha1/namespaces/team-a/sandboxes"],
  ["Snapshot", SnapshotResource, "", "/apis/soulbox.dev/v1alpha1/snapshots"],
])("%s in namespace %p: %s", (_kind, type, namespace, path) => {
  expect(customResourcePath(type, namespace)).toBe(path);
});

test("the object ref carries group, version and plural only", () => {
  expect(customObjectRef(SandboxResource)).toEqual({
    group: "soulbox.dev",
    version: "v1alpha1",
    plural: "sandboxes",
  });
});
