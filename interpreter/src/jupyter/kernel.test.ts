import { connectAllOrNone } from "./kernel.js";

/** A stand-in for a connected socket that records its close. */
const socket = (name: string, closed: string[]) => ({ name, close: () => void closed.push(name) });

describe("connectAllOrNone: a kernel's sockets connect together or not at all", () => {
  test("all connect: all are returned, none closed", async () => {
    const closed: string[] = [];
    const got = await connectAllOrNone([
      Promise.resolve(socket("shell", closed)),
      Promise.resolve(socket("iopub", closed)),
    ] as const);
    expect(got.map((s) => s.name)).toEqual(["shell", "iopub"]);
    expect(closed).toEqual([]);
  });

  test("one is refused: the ones that connected are closed (no iopub left to double the output)", async () => {
    const closed: string[] = [];
    const refused = new Error("connect ECONNREFUSED 127.0.0.1:40001");
    await expect(
      connectAllOrNone([
        Promise.reject(refused),
        Promise.resolve(socket("iopub", closed)),
        Promise.resolve(socket("control", closed)),
      ] as const),
    ).rejects.toBe(refused);
    expect(closed.sort()).toEqual(["control", "iopub"]);
  });
});
