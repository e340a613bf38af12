"""The official Python `e2b-code-interpreter` SDK against a SoulBox gateway, configured only by
E2B_API_URL, E2B_DOMAIN and E2B_API_KEY. Prints one JSON object with what it observed; the
Jest test (e2e/gateway/interpreter.test.ts) checks it."""

import json

from e2b.exceptions import TimeoutException
from e2b_code_interpreter import Sandbox


def main() -> None:
    seen: dict = {}
    sbx = Sandbox.create(timeout=180)
    try:
        streamed: list[str] = []
        first = sbx.run_code("x = 20\nprint('from python')\nx + 1", on_stdout=lambda m: streamed.append(m.line))
        seen["text"] = first.text
        seen["stdout"] = first.logs.stdout
        seen["streamed"] = streamed
        seen["state"] = sbx.run_code("x * 2").text
        seen["js"] = sbx.run_code("const y: number = 5; y * 3", language="ts").text
        seen["error"] = sbx.run_code("1/0").error.name
        try:
            sbx.run_code("while True: pass", timeout=3)
            seen["interrupted"] = False
        except TimeoutException:
            seen["interrupted"] = True
        seen["after_interrupt"] = sbx.run_code("x").text
        ctx = sbx.create_code_context(language="python", cwd="/tmp")
        seen["ctx_cwd"] = sbx.run_code("import os; os.getcwd()", context=ctx).text
        seen["ctx_listed"] = ctx.id in [c.id for c in sbx.list_code_contexts()]
        sbx.run_code("v = 1", context=ctx)
        sbx.restart_code_context(ctx)
        seen["after_restart"] = sbx.run_code("v", context=ctx).error.name
        sbx.remove_code_context(ctx)
        seen["ctx_removed"] = ctx.id not in [c.id for c in sbx.list_code_contexts()]
        chart = sbx.run_code(
            "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [2, 4, 8], label='l')\nplt.title('growth')\nplt.show()"
        )
        seen["chart_type"] = str(chart.results[0].chart.type.value)
        seen["chart_title"] = chart.results[0].chart.title
        seen["chart_png"] = bool(chart.results[0].png)
    finally:
        sbx.kill()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
