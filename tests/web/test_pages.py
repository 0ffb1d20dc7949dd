"""Every page at phone width, in the dark, by keyboard, and when the API refuses the key or cannot be reached."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

PAGES = ["/dashboard/", "/dashboard/requests/", "/dashboard/playground/", "/dashboard/cache/",
         "/dashboard/keys/", "/dashboard/policy/", "/dashboard/settings/", "/dashboard/signin/"]


@pytest.fixture(scope="module")
def org_key(gateway: str) -> str:
    """An org with a few requests in its ledger, made through the API."""
    created = httpx.post(f"{gateway}/signup", json={"org_name": f"Pages {secrets.token_hex(3)}",
                                                    "email": "pages@example.com"}).json()
    key = str(created["api_key"])
    for text in ("one", "one", "two"):
        httpx.post(f"{gateway}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                   json={"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
    return key


def signed_in(browser: Browser, gateway: str, key: str, **options: object) -> Page:
    context = browser.new_context(base_url=gateway, **options)  # type: ignore[arg-type]
    context.add_init_script(f"window.localStorage.setItem('asahi.apiKey', {key!r})")
    context.set_default_timeout(15_000)
    return context.new_page()


def test_no_page_is_wider_than_a_phone(browser: Browser, gateway: str, org_key: str) -> None:
    page = signed_in(browser, gateway, org_key, viewport={"width": 390, "height": 844})
    for path in PAGES:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", level=1, name="Keys")).to_be_visible()
    page.context.close()


def test_keyboard_reaches_the_content_and_the_pages(browser: Browser, gateway: str, org_key: str) -> None:
    page = signed_in(browser, gateway, org_key, viewport={"width": 1280, "height": 800})
    page.goto("/dashboard/requests/")
    expect(page.get_by_test_id("requests-table")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_role("link", name="Cache", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Cache")).to_be_visible()
    page.goto("/dashboard/requests/")
    first = page.get_by_test_id("requests-table").locator("tbody tr").first.get_by_role("button")
    first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Request")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Request")).to_be_hidden()
    page.context.close()


def test_every_input_has_a_label(browser: Browser, gateway: str, org_key: str) -> None:
    page = signed_in(browser, gateway, org_key, viewport={"width": 1280, "height": 800})
    for path in PAGES:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML.slice(0, 80))""")
        assert unnamed == [], f"{path}: {unnamed}"
    page.context.close()


def test_dark_theme_is_chosen_and_kept(browser: Browser, gateway: str, org_key: str) -> None:
    page = signed_in(browser, gateway, org_key, color_scheme="light")
    page.goto("/dashboard/")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.get_by_label("Colour theme").select_option("dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != dark
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.context.close()


def test_a_refused_key_goes_back_to_sign_in(browser: Browser, gateway: str) -> None:
    page = signed_in(browser, gateway, "asahi_000000000000_not-a-real-key")
    page.goto("/dashboard/requests/")
    expect(page).to_have_url(re.compile(r"/dashboard/signin/\?reason=invalid_api_key"))
    expect(page.locator("main").get_by_role("alert")).to_contain_text("no longer accepts")
    assert page.evaluate("window.localStorage.getItem('asahi.apiKey')") is None
    page.context.close()


def test_a_key_without_the_pages_scope_is_told_which_key_it_needs(browser: Browser, gateway: str,
                                                                   org_key: str) -> None:
    created = httpx.post(f"{gateway}/governance/api-keys", headers={"Authorization": f"Bearer {org_key}"},
                         json={"name": "infer only", "scopes": ["infer"]})
    assert created.status_code == 201, created.text
    page = signed_in(browser, gateway, str(created.json()["api_key"]))
    page.goto("/dashboard/keys/")
    alert = page.locator("main").get_by_role("alert")
    expect(alert).to_contain_text("This key may not do that")
    expect(alert).to_contain_text("an admin key can do everything in its org")
    expect(page).to_have_url(re.compile(r"/dashboard/keys/"))  # a valid key stays signed in
    page.context.close()


def test_an_unreachable_api_is_said_plainly(browser: Browser, gateway: str, org_key: str) -> None:
    page = signed_in(browser, gateway, org_key)
    page.context.add_init_script("window.localStorage.setItem('asahi.apiUrl', 'http://127.0.0.1:9')")
    page.goto("/dashboard/")
    expect(page.locator("main").get_by_role("alert")).to_contain_text("can't be reached")
    expect(page.locator("main").get_by_role("alert")).to_contain_text("http://127.0.0.1:9")
    page.context.close()


def test_a_rate_limited_prompt_says_when_to_retry(browser: Browser, gateway: str) -> None:
    created = httpx.post(f"{gateway}/signup", json={"org_name": f"Limited {secrets.token_hex(3)}",
                                                    "email": "limited@example.com"}).json()
    key = str(created["api_key"])
    httpx.put(f"{gateway}/governance/policy", headers={"Authorization": f"Bearer {key}"},
              json={"requests_per_minute": 1})
    page = signed_in(browser, gateway, key)
    page.goto("/dashboard/playground/")
    send = page.get_by_role("button", name="Send")
    send.click()
    expect(page.get_by_test_id("answer")).to_contain_text("[asahi simulator]")
    page.get_by_label("Prompt", exact=True).fill("another prompt")
    send.click()
    alert = page.locator("main").get_by_role("alert")
    expect(alert).to_contain_text("Too many requests")
    expect(alert).to_contain_text(re.compile(r"wait \d+ s before trying again"))
    page.context.close()


def test_saving_the_policy_page_keeps_what_it_does_not_show(browser: Browser, gateway: str) -> None:
    created = httpx.post(f"{gateway}/signup", json={"org_name": f"Budgets {secrets.token_hex(3)}",
                                                    "email": "budgets@example.com"}).json()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    budgets = [{"limit_usd": 5.0, "window": "day", "hard": True}]
    httpx.put(f"{gateway}/governance/policy", headers=headers,
              json={"budgets": budgets, "alert_webhook_url": "https://hooks.example.com/asahi"}).raise_for_status()
    page = signed_in(browser, gateway, str(created["api_key"]))
    page.goto("/dashboard/policy/")
    page.get_by_label("Cascade mode").check()
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    stored = httpx.get(f"{gateway}/governance/policy", headers=headers).json()
    assert stored["cascade"] is True
    assert stored["budgets"] == budgets and stored["alert_webhook_url"] == "https://hooks.example.com/asahi"
    page.context.close()
