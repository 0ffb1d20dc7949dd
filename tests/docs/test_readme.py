"""The README runs as written: its ```bash blocks, in order, in one bash shell at the root of the checkout, as a
new user would paste them. Any failing command fails the test, an HTTP error included (curl is run with
--fail-with-body). Blocks fenced as ```console (with `$` prompts) show commands that cannot run here, such as
deploying, and are not run. The walk-through starts its own `asahi serve`; port 8000 is swapped for a free one
and the server gets a data directory of its own, so the test never meets another server or earlier state."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

from tests.faults.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```bash\n(.*?)^```$", re.S | re.M)
PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
"""


def bash_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def test_only_bash_fences_are_taken() -> None:
    text = "```bash\necho one\n```\n```console\n$ echo two\n```\n```bash\necho three\n```\n"
    assert bash_blocks(text) == ["echo one\n", "echo three\n"]


def test_the_readme_blocks_run_in_order_against_a_live_server(tmp_path: Path) -> None:
    port = free_port()
    blocks = bash_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 4
    script = PREAMBLE + "\n".join(re.sub(r"\b8000\b", str(port), block) for block in blocks)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ASAHI_", "OPENAI_", "ANTHROPIC_", "COHERE_", "PINECONE_", "SENDGRID_", "SMTP_"))
           and k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST", "WEB_CONCURRENCY")}
    env |= {"ASAHI_DATA_DIR": str(tmp_path / "data"), "ASAHI_IN_CONTAINER": "0", "ASAHI_LOG_LEVEL": "WARNING"}
    log = tmp_path / "readme.log"  # a file, not a pipe: the server left in the background keeps writing to it
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        proc.wait(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server the walk-through started
    output = log.read_text()
    assert proc.returncode == 0, f"a README command failed (exit {proc.returncode}):\n{output[-4000:]}"
    assert "x-asahi-cache: miss" in output and "x-asahi-cache: t1" in output
