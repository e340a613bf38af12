"""The official Python `e2b` SDK against a SoulBox gateway, configured only by E2B_API_URL,
E2B_SANDBOX_URL and E2B_API_KEY. Prints one JSON object with what it observed; the Jest test
(e2e/gateway/sdk.test.ts) checks it."""

import json
import sys
import time

from e2b import Sandbox, SandboxQuery
from e2b.exceptions import NotFoundException


def main() -> None:
    tag = sys.argv[1]
    seen: dict = {}
    sbx = Sandbox.create("base", timeout=120, metadata={"suite": tag}, envs={"GREETING": "hi"})
    try:
        seen["sandbox_id"] = sbx.sandbox_id
        chunks: list[str] = []
        result = sbx.commands.run(
            "for i in 1 2 3; do echo line$i; sleep 0.1; done; echo $GREETING", on_stdout=chunks.append
        )
        seen["stdout"] = result.stdout
        seen["streamed"] = "".join(chunks)
        seen["exit_code"] = result.exit_code
        sbx.files.write("/home/user/from-python.txt", "written by the Python SDK")
        seen["read_back"] = sbx.files.read("/home/user/from-python.txt")
        listed = Sandbox.list(query=SandboxQuery(metadata={"suite": tag})).next_items()
        seen["listed"] = [s.sandbox_id for s in listed]
        before = time.time()
        sbx.set_timeout(60)
        seen["end_in_s"] = round(sbx.get_info().end_at.timestamp() - before)
        seen["running"] = sbx.is_running()
    finally:
        sbx.kill()
    seen["running_after_kill"] = sbx.is_running()
    try:
        Sandbox.connect(sbx.sandbox_id)
        seen["connect_after_kill"] = "connected"
    except NotFoundException as err:
        seen["connect_after_kill"] = type(err).__name__
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
