"""The two builds of web/: the one `asahi serve` ships at /dashboard/ (same origin, no API URL baked in), and a
deployment on its own with NEXT_PUBLIC_API_URL set at build time (`make dashboard-check` builds it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asahi.api.dashboard import BUILT

DEPLOYED = Path(__file__).resolve().parents[2] / "web" / ".next-check"
API = "https://api.example.com"


def scripts(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (folder / "_next" / "static").rglob("*.js"))


def test_a_deployment_of_its_own_calls_the_url_it_was_built_with() -> None:
    if not (DEPLOYED / "index.html").is_file():
        pytest.fail("run `make dashboard-check` (make test does) to build the deployment check")
    assert API in scripts(DEPLOYED)
    index = (DEPLOYED / "index.html").read_text()
    assert 'src="/_next/static/' in index and "/dashboard/_next" not in index  # served from its host's root
    for page in ("signin", "requests", "playground", "cache", "keys", "policy", "settings"):
        assert (DEPLOYED / page / "index.html").is_file(), page


def test_the_served_build_lives_under_dashboard_and_calls_its_own_origin() -> None:
    if not (BUILT / "index.html").is_file():
        pytest.fail(f"the dashboard is not built into {BUILT}: run `make dashboard`")
    assert 'src="/dashboard/_next/static/' in (BUILT / "index.html").read_text()
    assert API not in scripts(BUILT)
