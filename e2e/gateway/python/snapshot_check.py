"""The official Python `e2b` SDK's pause, snapshot and fork calls against a SoulBox gateway,
configured only by what e2e/cluster/env prints. Prints one JSON object with what it observed;
the Jest test (e2e/gateway/snapshots.test.ts) checks it."""

import json
import sys

from e2b import Sandbox
from e2b.exceptions import SandboxNotFoundException

PATH = "/home/user/python.txt"


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
