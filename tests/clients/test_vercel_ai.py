"""The Vercel AI SDK (Node): `generateText` with a tool, and `generateObject`, run by node's own test runner.

tests/clients/node holds the tests and a package-lock.json; `make test` installs node_modules from the lock
(`npm ci`) when they are missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import Asahi

NODE_DIR = Path(__file__).resolve().parent / "node"
_RESULT = re.compile(r"^(not ok|ok) \d+ - (.+?)(?: #.*)?$", re.MULTILINE)


@pytest.fixture(scope="module")
def node_results(asahi: Asahi, key: str) -> dict[str, bool]:
    """Each node test's name and whether it passed."""
    node = shutil.which("node")
    assert node is not None, "node is required for the Vercel AI SDK tests"
    assert (NODE_DIR / "node_modules").is_dir(), f"run `npm ci` in {NODE_DIR} (make test does)"
    env = {**os.environ, "ASAHI_URL": asahi.url, "ASAHI_KEY": key}
    run = subprocess.run([node, "--test", "--test-reporter=tap", "vercel.test.mjs"], cwd=NODE_DIR, env=env,
                         capture_output=True, text=True, timeout=120)
    results = {name: outcome == "ok" for outcome, name in _RESULT.findall(run.stdout)}
    assert results, f"node ran no test:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    if not all(results.values()):
        print(run.stdout[-4000:])  # shown with the failing test: node's own account of what went wrong
    return results


@pytest.mark.compat("Vercel AI SDK", "tool loop", how="generateText with tools")
def test_generate_text_with_tools(node_results: dict[str, bool]) -> None:
    assert node_results["generateText with tools"]


@pytest.mark.compat("Vercel AI SDK", "structured output", how="generateObject")
def test_generate_object(node_results: dict[str, bool]) -> None:
    assert node_results["generateObject"]
