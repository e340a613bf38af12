"""The official Python `e2b` SDK against a SoulBox gateway, configured only by what
`e2e/cluster/env` prints (issue 14, items 1, 5 and 7): signed URLs, getHost, commands and files
without E2B_SANDBOX_URL; metrics history by range; a command whose sandbox is killed. Prints one
JSON object with what it observed; e2e/gateway/compat.test.ts checks it."""

import json
import os
import ssl
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

from e2b import Sandbox
from e2b.exceptions import TimeoutException


def fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def multipart(name: str, body: bytes) -> tuple[bytes, str]:
    boundary = "soulboxcompat"
    data = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
    return data, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    seen: dict = {"sandbox_url_env": os.environ.get("E2B_SANDBOX_URL")}
    sbx = Sandbox.create("base", timeout=120)
    try:
        seen["host"] = sbx.get_host(8000)
        seen["echo"] = sbx.commands.run("echo from python").stdout
        body, ctype = multipart("p.txt", b"uploaded by python")
        up = sbx.upload_url("/home/user/p.txt", use_signature_expiration=60)
        seen["upload_url"] = up
        seen["upload_status"] = fetch(up, body, {"Content-Type": ctype})[0]
        down = sbx.download_url("/home/user/p.txt")
        seen["download"] = fetch(down)
        seen["read"] = sbx.files.read("/home/user/p.txt")

        # Metrics: three samples (E2B samples every 5 s), then a range holding only the middle one.
        deadline = time.time() + 40
        metrics = sbx.get_metrics()
        while len(metrics) < 3 and time.time() < deadline:
            time.sleep(1)
            metrics = sbx.get_metrics()
        seen["metric_times"] = [m.timestamp.timestamp() for m in metrics]
        if len(metrics) >= 3:
            mid = metrics[1].timestamp
            ranged = sbx.get_metrics(start=mid, end=mid)
            seen["ranged_times"] = [m.timestamp.timestamp() for m in ranged]
        try:
            sbx.get_metrics(start=datetime(2030, 1, 2, tzinfo=timezone.utc), end=datetime(2030, 1, 1, tzinfo=timezone.utc))
            seen["start_after_end"] = "no error"
        except Exception as err:  # the SDK's error class for a 400
            seen["start_after_end"] = f"{type(err).__name__}: {err}"

        # A command running while its sandbox is killed.
        handle = sbx.commands.run("sleep 300", background=True)
        killer = threading.Timer(1.0, lambda: Sandbox.kill(sbx.sandbox_id))
        killer.start()
        try:
            handle.wait()
            seen["wait_after_kill"] = "returned"
        except TimeoutException as err:
            seen["wait_after_kill"] = f"{type(err).__name__}: {err}"
        except Exception as err:
            seen["wait_after_kill"] = f"other {type(err).__name__}: {err}"
        killer.join()
    finally:
        sbx.kill()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
