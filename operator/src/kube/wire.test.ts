import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { modelName, toWire } from "./wire.js";

const typed: V1NetworkPolicy = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "p", creationTimestamp: new Date("2026-03-01T10:00:00Z") },
  spec: {
    podSelector: {},
    ingress: [{ _from: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: "UDP" }] }],
  },
};
const wire = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "p", creationTimestamp: "2026-03-01T10:00:00.000Z" },
  spec: {
    podSelector: {},
    ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: "UDP" }] }],
  },
};

describe("toWire", () => {
  test.each<[string, unknown]>([
    ["the typed form (a list's items): `_from` and Dates", typed],
    ["the wire form (a watch event's object)", wire],
  ])("turns %s into the wire form", (_name, input) => {
    expect(toWire(input, "V1NetworkPolicy")).toEqual(wire);
  });

  test("keeps map values and drops fields the model does not know", () => {
    expect(
      toWire({ metadata: { labels: { a: "b" } }, data: { k: "dg==" }, extra: 1 }, "V1Secret"),
    ).toEqual({ metadata: { labels: { a: "b" } }, data: { k: "dg==" } });
  });

  test("passes values of unknown types through", () => {
    expect(toWire({ a: 1 }, "NoSuchType")).toEqual({ a: 1 });
  });
});

test.each([
  ["v1", "Pod", "V1Pod"],
  ["networking.k8s.io/v1", "NetworkPolicy", "V1NetworkPolicy"],
  ["batch/v2", "Job", "V2Job"],
])("modelName(%s, %s) is %s", (apiVersion, kind, name) => {
  expect(modelName(apiVersion, kind)).toBe(name);
});
