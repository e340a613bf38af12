"""The official Python `e2b` SDK's pause, snapshot and fork calls against a SoulBox gateway,
configured only by what e2e/cluster/env prints. Prints one JSON object with what it observed;
the Jest test (e2e/gateway/snapshots.test.ts) checks it."""

import json
import sys
import time

from e2b import Sandbox
from e2b.exceptions import SandboxNotFoundException

PATH = "/home/user/python.txt"
# A counting loop in the background: "<its pid> <count>" in /tmp/count, 5 times a second.
COUNTER = (
    "sh -c 'i=0; while :; do i=$((i+1)); echo \"$$ $i\" > /tmp/count.new; "
    "mv /tmp/count.new /tmp/count; sleep 0.2; done'"
)


def counter_past(sbx: Sandbox, above: int) -> tuple[int, int]:
    """Polls the counter until it is past `above`; (pid, count)."""
    deadline = time.monotonic() + 60
    while True:
        out = sbx.commands.run("cat /tmp/count 2>/dev/null || echo 0 0").stdout.split()
        pid, count = int(out[0]), int(out[1])
        if count > above:
            return pid, count
        if time.monotonic() > deadline:
            raise TimeoutError(f"the counter did not pass {above} (at {count})")
        time.sleep(0.25)


def main() -> None:
    tag = sys.argv[1]
    seen: dict = {}
    sbx = Sandbox.create("base", timeout=300)
    copy = None
    try:
        sbx.files.write(PATH, "written by Python")
        seen["paused"] = sbx.pause(mode="filesystem")
        seen["paused_again"] = Sandbox.pause(sbx.sandbox_id, mode="filesystem")
        seen["state_while_paused"] = Sandbox.get_info(sbx.sandbox_id).state.value
        resumed = Sandbox.connect(sbx.sandbox_id)
        seen["after_resume"] = resumed.files.read(PATH)

        # Pause keeping memory (the SDK's default): this release checkpoints the processes.
        resumed.commands.run(COUNTER, background=True)
        pid, count = counter_past(resumed, 2)
        seen["memory_paused"] = resumed.pause()
        seen["memory_state_while_paused"] = Sandbox.get_info(sbx.sandbox_id).state.value
        Sandbox.connect(sbx.sandbox_id)
        pid_after, _ = counter_past(resumed, count)
        seen["memory_same_pid"] = pid_after == pid

        info = resumed.create_snapshot(name=tag)
        seen["snapshot_names"] = info.names
        listed = Sandbox.list_snapshots(sandbox_id=sbx.sandbox_id).next_items()
        seen["listed"] = info.snapshot_id in [s.snapshot_id for s in listed]
        copy = Sandbox.create(info.snapshot_id, timeout=120)
        seen["from_snapshot"] = copy.files.read(PATH)
        copy.kill()
        copy = None
        seen["deleted"] = Sandbox.delete_snapshot(info.snapshot_id)
        seen["deleted_again"] = Sandbox.delete_snapshot(info.snapshot_id)
    finally:
        if copy is not None:
            copy.kill()
        sbx.kill()
    try:
        Sandbox.fork(sbx.sandbox_id)
        seen["fork_of_killed"] = "forked"
    except SandboxNotFoundException as err:
        seen["fork_of_killed"] = type(err).__name__
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
