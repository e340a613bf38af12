import { podHostname } from "./snapshot.js";

describe("podHostname: the hostname the kubelet gives a pod", () => {
  const long = `a${"b".repeat(70)}`;
  test.each<[string, { metadata?: { name?: string }; spec?: { hostname?: string } }, string]>([
    [
      "spec.hostname wins",
      { metadata: { name: "sb" }, spec: { hostname: "py-p-x7k2q" } },
      "py-p-x7k2q",
    ],
    ["else the pod's name", { metadata: { name: "sb" } }, "sb"],
    ["a name over 63 characters is cut", { metadata: { name: long } }, long.slice(0, 63)],
    [
      "with no trailing dash after the cut",
      { metadata: { name: `${"c".repeat(62)}-x` } },
      "c".repeat(62),
    ],
  ])("%s", (_, pod, want) => expect(podHostname(pod)).toBe(want));
});
