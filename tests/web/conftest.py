"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real `asahi serve` on the
embedded defaults (SQLite, in-process caches, the simulator provider).

`make test` builds the dashboard first (`make dashboard`); these tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from asahi.api.dashboard import BUILT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The machine may be shared and busy: a slow answer is not a failure, a wrong one is.
expect.set_options(timeout=15_000)
SCREENSHOTS = os.environ.get("ASAHI_DASHBOARD_SCREENSHOTS")  # a folder: the tests also save each page there


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`asahi serve` on embedded defaults, as a user starts it; its URL."""
    if not (BUILT / "index.html").is_file():
        pytest.fail(f"the dashboard is not built into {BUILT}: run `make dashboard`")
    port = _free_port()
    data = tmp_path_factory.mktemp("gateway")
    # Only what the process needs: a provider key or a database URL from the caller's shell must not leak in.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(data), "ASAHI_DATA_DIR": str(data / "data"),
           "ASAHI_LOG_LEVEL": "WARNING"}
    log = (data / "serve.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).with_name("asahi")), "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"asahi serve did not start: {(data / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required: apt-get install chromium (make test installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, gateway: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=gateway,
                                  color_scheme="light", timezone_id="Europe/Paris", locale="en-GB")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Saved only when ASAHI_DASHBOARD_SCREENSHOTS names a folder (`make screenshots`): runs leave no files."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
