import {
  SandboxConditionType as ConditionType,
  type Condition,
  type ConditionInput,
} from "../../api/conditions.js";
import { setCondition, setConditions } from "./conditions.js";

const t0 = new Date("2026-11-28T10:00:00Z");
const t1 = new Date("2026-11-28T11:00:00Z");
const ready = (status: Condition["status"], reason = "PodReady"): ConditionInput => ({
  type: ConditionType.Ready,
  status,
  reason,
  message: `ready is ${status}`,
  observedGeneration: 1,
});

describe("setCondition", () => {
  test.each<[string, Condition[], ConditionInput, Condition[]]>([
    [
      "appends a new type",
      [],
      ready("True"),
      [{ ...ready("True"), lastTransitionTime: t1.toISOString() }],
    ],
    [
      "same status keeps the transition time, updates reason and message",
      [{ ...ready("True"), lastTransitionTime: t0.toISOString() }],
      ready("True", "StillReady"),
      [{ ...ready("True", "StillReady"), lastTransitionTime: t0.toISOString() }],
    ],
    [
      "a status change moves the transition time",
      [{ ...ready("True"), lastTransitionTime: t0.toISOString() }],
      ready("False", "PodGone"),
      [{ ...ready("False", "PodGone"), lastTransitionTime: t1.toISOString() }],
    ],
    [
      "duplicates of the type collapse into one",
      [
        { ...ready("True"), lastTransitionTime: t0.toISOString() },
        { ...ready("True"), lastTransitionTime: t0.toISOString() },
      ],
      ready("True"),
      [{ ...ready("True"), lastTransitionTime: t0.toISOString() }],
    ],
  ])("%s", (_name, before, next, expected) => {
    expect(setCondition(before, next, t1)).toEqual(expected);
  });

  test("20 reconciles leave exactly the same conditions and transition times", () => {
    const inputs: ConditionInput[] = [
      ready("True"),
      {
        type: ConditionType.Scheduled,
        status: "True",
        reason: "PodScheduled",
        message: "on node n1",
      },
      {
        type: ConditionType.Paused,
        status: "False",
        reason: "Running",
        message: "spec.state is Running",
      },
    ];
    let conditions = setConditions([], inputs, t0);
    const first = conditions;
    for (let i = 0; i < 20; i++)
      conditions = setConditions(conditions, inputs, new Date(t1.getTime() + i * 1000));
    expect(conditions).toHaveLength(3);
    expect(conditions).toEqual(first);
  });
});
