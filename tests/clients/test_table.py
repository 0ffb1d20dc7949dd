"""The compatibility table: cells from outcomes, and only its own section of the file rewritten."""

from __future__ import annotations

from pathlib import Path

from tests.clients.table import END, START, Outcome, render, write_table

OUTCOMES = [Outcome("instructor", "structured output", "tools", True),
            Outcome("instructor", "structured output", "json mode", False),
            Outcome("instructor", "lists", "create_iterable", True)]


def test_a_cell_passes_only_when_all_its_tests_pass() -> None:
    row = next(line for line in render(OUTCOMES).splitlines() if line.startswith("| instructor "))
    assert row.endswith("| ✗ tools, json mode | — | ✓ create_iterable | — | — |")


def test_only_the_generated_section_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "compatibility.md"
    path.write_text(f"# Compatibility\n\nWritten by hand.\n\n{START}\nold table\n{END}\n\nAlso by hand.\n")
    write_table(path, OUTCOMES)
    text = path.read_text()
    assert "Written by hand." in text and "Also by hand." in text and "old table" not in text
    assert text.count(START) == 1 and "| instructor " in text
    fresh = tmp_path / "new.md"
    write_table(fresh, OUTCOMES)
    assert fresh.read_text().startswith("# Compatibility\n\n## Client libraries offline") and END in fresh.read_text()
