import type { Sandbox } from "../../../api/gen/crd-types.js";
import { childMetadata, ownerReference } from "./owner.js";

const sandbox = (metadata: Sandbox["metadata"]): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata,
  spec: { template: { image: "x" } },
});

describe("ownerReference", () => {
  test("is the controlling, deletion-blocking reference to the Sandbox", () => {
    expect(ownerReference(sandbox({ name: "sb1", namespace: "a", uid: "u-1" }))).toEqual({
      apiVersion: "soulbox.dev/v1alpha1",
      kind: "Sandbox",
      name: "sb1",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  test.each<[string, Sandbox["metadata"]]>([
    ["no uid", { name: "sb1" }],
    ["no name", { uid: "u-1" }],
    ["an empty uid", { name: "sb1", uid: "" }],
  ])("refuses a Sandbox with %s", (_name, metadata) => {
    expect(() => ownerReference(sandbox(metadata))).toThrow(/needs metadata.name and metadata.uid/);
  });
});

describe("childMetadata", () => {
  test("names, places, labels and owns the child", () => {
    const sb = sandbox({ name: "sb1", namespace: "team-a", uid: "u-1" });
    expect(childMetadata(sb, "sb1-envd", "token")).toEqual({
      name: "sb1-envd",
      namespace: "team-a",
      labels: {
        "soulbox.dev/sandbox": "sb1",
        "soulbox.dev/component": "token",
        "app.kubernetes.io/managed-by": "soulbox-operator",
      },
      ownerReferences: [ownerReference(sb)],
    });
  });

  test("refuses a Sandbox without a namespace", () => {
    expect(() => childMetadata(sandbox({ name: "sb1", uid: "u-1" }), "sb1", "pod")).toThrow(
      /Sandbox "sb1" has no metadata.namespace/,
    );
  });
});
