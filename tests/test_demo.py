from __future__ import annotations

from asahi.demo import instructions


def test_the_demo_prints_where_the_dashboard_is() -> None:
    text = instructions("http://127.0.0.1:8000", "org", "asahi_abc_def")
    assert "dashboard: http://127.0.0.1:8000/dashboard/" in text
    assert "asahi_abc_def" in text
