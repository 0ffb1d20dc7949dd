"""A team lead's first visit, in a browser: sign up, copy the key, send a prompt twice (a miss, then a tier 1 hit),
see the saving on the overview and both requests in the ledger, create and revoke a key, have a policy change
refused beside its field, and check the connection."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot

MONEY = re.compile(r"[$]\s?0[.,]0*[1-9]|[$]\s?[1-9]")  # a positive USD amount, however many decimals


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def test_a_first_visit_end_to_end(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/dashboard/signin/$"))
    screenshot(page, "signin")

    page.get_by_label("Organisation name").fill(f"Acme {secrets.token_hex(3)}")
    page.get_by_label("Email").fill("lead@acme.example")
    page.get_by_role("button", name="Create organisation").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("asahi_")
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    screenshot(page, "signup-key")
    page.get_by_role("button", name=re.compile("continue to the playground")).click()

    expect(page.get_by_role("heading", level=1, name="Playground")).to_be_visible()
    prompt = f"What is prompt caching? ({secrets.token_hex(4)})"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    send = page.get_by_role("button", name="Send")
    send.click()
    expect(page.get_by_test_id("result-cache")).to_contain_text("Miss")
    expect(page.get_by_test_id("answer")).to_contain_text("[asahi simulator]")
    expect(send).to_be_enabled()
    send.click()
    expect(page.get_by_test_id("result-cache")).to_contain_text("Tier 1")
    expect(page.get_by_test_id("result-cost")).to_have_text(re.compile(r"[$]\s?0[.,]00\b"))
    expect(page.get_by_test_id("result-saved")).to_have_text(MONEY)
    expect(page.get_by_test_id("result-baseline")).to_have_text(MONEY)  # from the request's ledger row
    expect(page.get_by_test_id("history").locator("tbody tr")).to_have_count(2)
    screenshot(page, "playground")

    nav(page, "Overview")
    expect(page.get_by_test_id("kpi-saved")).to_contain_text(MONEY)
    expect(page.get_by_test_id("savings-by-cause").locator("li").first).to_contain_text(MONEY)
    screenshot(page, "overview")

    nav(page, "Requests")
    # A routed request the org's calibration sampled is verified off the path: those calls are rows too
    # ("Bypass", cause routing verification), so only the two answers are counted here.
    rows = page.get_by_test_id("requests-table").locator("tbody tr").filter(has_text=re.compile("Tier 1|Miss"))
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Tier 1")
    expect(rows.nth(1)).to_contain_text("Miss")
    screenshot(page, "requests")
    rows.nth(0).get_by_role("button").click()
    dialog = page.get_by_role("dialog", name="Request")
    expect(dialog).to_contain_text("Without Asahi")
    expect(dialog).to_contain_text("Tier 1")
    screenshot(page, "request-detail")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    nav(page, "Cache")
    expect(page.get_by_test_id("t2-delta")).to_have_text(re.compile(r"2(\.0)?\s?%"))
    screenshot(page, "cache")

    nav(page, "Keys")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    created = page.get_by_role("dialog", name="Your new key")
    expect(created.get_by_test_id("created-key")).to_have_text(re.compile(r"^asahi_"))
    created.get_by_role("button", name="Done").click()
    ci_row = page.locator("tr[data-key-name='ci']")
    expect(ci_row).to_contain_text("Active")
    ci_row.get_by_role("button", name=re.compile("Revoke")).click()
    confirm = page.get_by_role("dialog", name="Revoke this key?")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(ci_row).to_contain_text("Revoked")
    expect(page.locator("tr[data-key-name='default']")).to_contain_text("Active")
    screenshot(page, "keys")

    nav(page, "Policy")
    page.get_by_label("Quality floor").fill("1.5")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_test_id("error-quality_floor")).to_contain_text("less than or equal to 1")
    expect(page.get_by_label("Quality floor")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "policy")

    nav(page, "Settings")
    page.get_by_role("button", name="Check the connection").click()
    check = page.get_by_test_id("connection-check")
    expect(check).to_contain_text("sqlite")
    expect(check).to_contain_text("memory")
    expect(check).to_contain_text("simulator")
    expect(check).to_contain_text("accepted")
    screenshot(page, "settings")
