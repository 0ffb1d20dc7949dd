"""The packaged install, as the container image runs it: the wheel built from the source tree, installed into a
new venv by `deploy/install-and-serve.sh`, migrated and served on `$PORT` from an empty directory. Everything the
gateway reads at run time (the default config, the migrations, the embedding model and its tokenizer, the router
model, the token encodings and the built dashboard) must come from the installed package, never the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "deploy" / "install-and-serve.sh"


def build_wheel(out: Path) -> Path:
    """`pip wheel` on a copy of what a source distribution holds, so nothing of the checkout leaks in."""
    if not (ROOT / "src" / "asahi" / "dashboard" / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` first (make test does)")
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
                   check=True, capture_output=True)
    (wheel,) = out.glob("asahi-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the wheel and its dependencies (from pip's cache when it has them), nothing else."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    venv = work / "venv"
    subprocess.run([str(STEPS), "install", str(wheel), str(venv)], check=True, capture_output=True, timeout=600)
    return venv


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    """`install-and-serve.sh serve` in an empty directory, on a spare `$PORT`, with no configuration at all."""
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ASAHI_", "OPENAI_", "ANTHROPIC_", "COHERE_", "PINECONE_", "VIRTUAL_ENV"))
           and k not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH", "HOST")}
    env |= {"PORT": str(port), "ASAHI_IN_CONTAINER": "0", "ASAHI_LOG_LEVEL": "WARNING"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(STEPS), "serve", str(installed)], cwd=empty, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_installed_package_holds_everything_it_reads(installed: Path) -> None:
    probe = ("import asahi, asahi.config as c, asahi.api.dashboard as d, asahi.store.migrate as m, "
             "asahi.embeddings.local as e, asahi.routing.learned as r, asahi.routing.tokens as t; "
             "print(asahi.__file__); "
             "assert c.DEFAULTS.is_file() and (d.BUILT / 'index.html').is_file() and r.MODEL_PATH.is_file(); "
             "assert e.TOKENIZER_PATH.is_file() and any(t.ENCODINGS_DIR.iterdir()); "
             "assert len(list((m.MIGRATIONS / 'versions').glob('0*.py'))) >= 7")
    found = subprocess.run([str(installed / "bin" / "python"), "-c", probe], check=True, capture_output=True,
                           text=True, cwd=installed)
    assert found.stdout.strip().startswith(str(installed / "lib"))


def test_the_wheel_serves_health_the_dashboard_and_inference_from_an_empty_directory(served: str) -> None:
    health = httpx.get(served + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["database_backend"] == "sqlite"
    dashboard = httpx.get(served + "/dashboard/", timeout=10)
    assert dashboard.status_code == 200 and "<html" in dashboard.text
    key = httpx.post(served + "/signup", json={"org_name": "wheel", "email": "ops@example.com"},
                     timeout=10).json()["api_key"]
    body = {"model": "asahi/auto", "messages": [{"role": "user", "content": "What is prompt caching?"}]}
    headers = {"Authorization": f"Bearer {key}"}
    first = httpx.post(served + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    again = httpx.post(served + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert first.status_code == 200 and first.headers["x-asahi-cache"] == "miss"
    assert again.headers["x-asahi-cache"] == "t1"
