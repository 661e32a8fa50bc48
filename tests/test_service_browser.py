"""The widget in a real browser: Debian's Chromium, headless, driven by Playwright, against gunicorn."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import HOSTILE_HEADLINE, LiveServer, build_model, build_service_db
from recommender.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPORTS = Path(__file__).resolve().parents[1] / "reports"

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                "(apt-get install -y chromium)")]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """One gunicorn for this module's tests (each test uses its own article's events)."""
    server = LiveServer(build_service_db(tmp_path_factory.mktemp("browser")))
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1000})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}") or dialog.dismiss())
            page.errors = errors
            yield page
        finally:
            browser.close()


def api(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_widget_renders_the_api_answer_safely_and_reports_clicks(live_server, browser_page, tmp_path):
    page = browser_page
    expected = api(f"{live_server.url}/v1/articles/storm-1/related?k=5")["related"]
    assert HOSTILE_HEADLINE in [item["headline"] for item in expected]

    page.goto(f"{live_server.url}/demo/storm-1")
    box = page.locator("[data-readalso-article='storm-1']")
    assert box.get_attribute("data-readalso-state") in ("waiting", "loading", "rendered")
    box.scroll_into_view_if_needed()  # the widget fetches only when scrolled near
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)

    links = page.locator(".readalso__link")
    assert links.all_text_contents() == [item["headline"] for item in expected]
    # The demo page's embed keeps links on the demo (data-readalso-link="/demo/{id}"), not the stored URLs.
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        f"/demo/{item['id']}" for item in expected]
    assert page.locator(".readalso h2").text_content() == "Read also"
    heading_id = page.locator(".readalso h2").get_attribute("id")
    assert page.locator("section.readalso").get_attribute("aria-labelledby") == heading_id
    # The hostile headline is text: no <img> was created, nothing ran.
    assert page.locator(".readalso img").count() == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.errors == []

    REPORTS.mkdir(exist_ok=True)
    shot = tmp_path / "widget.png"
    box.screenshot(path=str(shot))
    page.screenshot(path=str(tmp_path / "demo-page.png"), full_page=True)
    shutil.copy(shot, REPORTS / "widget.png")
    shutil.copy(tmp_path / "demo-page.png", REPORTS / "demo-page.png")

    target = expected[1]
    with page.expect_navigation():
        links.nth(1).click()
    assert page.url == f"{live_server.url}/demo/{target['id']}"
    assert page.locator("h1").text_content() == target["headline"]
    deadline = time.monotonic() + 10
    while True:
        with Store(live_server.db) as store:
            clicks = store.events.query(type="click", article_id="storm-1")
            impressions = store.events.query(type="impression", article_id="storm-1")
        if clicks or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(c["target_id"], c["position"]) for c in clicks] == [(target["id"], 2)]
    assert clicks[0]["count"] == 1 and clicks[0]["model_version"].startswith("v")
    assert [(e["target_id"], e["position"]) for e in impressions] == [
        (item["id"], i) for i, item in enumerate(expected, 1)]


def test_widget_renders_nothing_when_the_api_fails(live_server, browser_page):
    page = browser_page
    page.route("**/v1/articles/*/related*", lambda route: route.fulfill(status=500, body="{}"))
    page.goto(f"{live_server.url}/demo/storm-1")
    page.locator("[data-readalso-article]").scroll_into_view_if_needed()
    page.wait_for_selector("[data-readalso-state='failed']", state="attached", timeout=10_000)
    assert page.locator("[data-readalso-article]").inner_html() == ""
    assert page.errors == []


def test_widget_fetches_only_when_scrolled_near(live_server, browser_page):
    page = browser_page
    def long_page(route):  # the demo page with a long article above the widget
        response = route.fetch()
        html = response.text()
        nonce = re.search(r'<style nonce="([^"]+)"', html).group(1)  # the page's policy allows only its nonce
        spacer = f'<style nonce="{nonce}">#spacer {{ height: 4000px }}</style><div id="spacer"></div>'
        route.fulfill(response=response,
                      body=html.replace("<div data-readalso-article", spacer + "<div data-readalso-article"))

    page.route(re.compile(r".*/demo/election-1$"), long_page)
    fetched = []
    page.on("request", lambda request: "/related" in request.url and fetched.append(request.url))
    page.goto(f"{live_server.url}/demo/election-1")
    # (a selector, not wait_for_function: the page's policy forbids the eval that would need)
    page.wait_for_selector("[data-readalso-state='waiting']", state="attached")
    page.wait_for_timeout(500)
    assert fetched == []
    page.mouse.wheel(0, 3500)  # scroll to within the 300px margin
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)
    assert len(fetched) == 1 and fetched[0].endswith("/v1/articles/election-1/related?k=5")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """gunicorn on the demo corpus (data/demo), as ``bash scripts/demo.sh`` serves it."""
    from conftest import DEMO
    from recommender.links import resolve_store
    from recommender.readers import Record, read_path

    sources = [p for p in (DEMO / "text", DEMO / "html") if p.exists()]
    if not sources:
        pytest.skip(f"no demo corpus under {DEMO}")
    db = tmp_path_factory.mktemp("demo-site") / "demo.db"
    with Store(db) as store:
        store.articles.upsert_many(item.article for path in sources for item in read_path(path)
                                   if isinstance(item, Record))
        resolve_store(store)
        build_model(store, db.with_suffix(".artifacts"))
    server = LiveServer(db)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def test_demo_site_shows_paragraphs_and_its_widget_opens_demo_pages(demo_server, browser_page):
    page = browser_page
    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    page.on("console", lambda message: message.type == "error" and failed.append(f"console: {message.text}"))
    with Store(demo_server.db) as store:
        article = store.articles.get("storm-ardent-04")
    expected_paragraphs = [p.strip() for p in article.body.split("\n") if p.strip()]
    assert len(expected_paragraphs) >= 4

    page.goto(f"{demo_server.url}/demo/storm-ardent-04")
    assert page.locator("article p").all_text_contents() == expected_paragraphs
    page.locator("[data-readalso-article]").scroll_into_view_if_needed()
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)
    links = page.locator(".readalso__link")
    targets = [links.nth(i).get_attribute("data-readalso-target") for i in range(links.count())]
    assert len(targets) == 5
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [f"/demo/{t}" for t in targets]
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "demo-article.png"), full_page=True)

    headline = links.nth(0).text_content()
    with page.expect_navigation():
        links.nth(0).click()
    assert page.url == f"{demo_server.url}/demo/{targets[0]}"
    assert page.locator("h1").text_content() == headline
    assert page.locator("article p").count() >= 2  # the story it opened has its paragraphs too
    page.wait_for_timeout(300)  # let the favicon request of the second page finish
    assert failed == [] and page.errors == []  # no 404 (favicon included), no console error


def test_widget_label_count_and_theme_come_from_the_embed(demo_server, browser_page):
    page = browser_page

    def themed(route):  # the publisher's embed with a label, a count, the dark theme and colours of its own
        response = route.fetch()
        # colours in the page's own (nonced) style sheet: the demo's policy allows no style attribute
        route.fulfill(response=response, body=response.text().replace(
            'data-readalso-k="5"',
            'data-readalso-k="3" data-readalso-title="More on this story" data-readalso-theme="dark"').replace(
            ":root {", "[data-readalso-article] { --readalso-accent: rgb(0, 102, 170); "
                       "--readalso-link: rgb(240, 240, 240); }\n    :root {", 1))

    page.route(re.compile(r".*/demo/measles-04$"), themed)
    page.goto(f"{demo_server.url}/demo/measles-04")
    page.locator("[data-readalso-article]").scroll_into_view_if_needed()
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)
    assert page.locator(".readalso h2").text_content() == "More on this story"
    assert page.locator(".readalso__link").count() == 3
    box = page.locator("section.readalso")
    assert "readalso--dark" in box.get_attribute("class")
    style = box.evaluate("el => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderTopColor]; }")
    assert style[0] == "rgb(27, 27, 29)"  # --readalso-bg is unset: the dark theme's default
    assert style[1] == "rgb(0, 102, 170)"  # the page's own --readalso-accent wins over the theme
    assert page.locator(".readalso__link").first.evaluate("el => getComputedStyle(el).color") == "rgb(240, 240, 240)"
    assert page.locator(".readalso__meta").first.evaluate("el => getComputedStyle(el).color") == "rgb(184, 184, 184)"
    REPORTS.mkdir(exist_ok=True)
    box.screenshot(path=str(REPORTS / "widget-dark.png"))
    assert page.errors == []


def test_widget_never_renders_a_link_that_is_not_http(live_server, browser_page):
    """Defence in depth: even if the API (or a store written around its checks) hands the widget
    javascript:, data: or relative URLs, no such href reaches the page and nothing runs."""
    page = browser_page
    hostile = ["javascript:alert(document.domain)", " JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
               "vbscript:msgbox(1)", "/relative/path", "//evil.example/x", "java\tscript:alert(1)"]
    answer = {"article_id": "storm-1", "model_version": "v-test", "related": [
        {"id": f"evil-{i}", "headline": f"Hostile link {i}", "url": url, "section": "climate", "published_at": None,
         "score": 0.9, "reason": "test"} for i, url in enumerate(hostile)] + [
        {"id": "storm-2", "headline": "A real story", "url": "https://news.example/climate/storm-2",
         "section": "climate", "published_at": None, "score": 0.5, "reason": "test"}]}
    page.route("**/v1/articles/*/related*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(answer)))
    page.route("**/v1/events", lambda route: route.fulfill(status=202, body="{}"))
    page.goto(f"{live_server.url}/demo/storm-1")
    page.locator("[data-readalso-article]").scroll_into_view_if_needed()
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert hrefs == ["/demo/storm-2"]  # the demo's own link template, for the one story with an http(s) URL
    assert page.locator(".readalso__link").all_text_contents() == ["A real story"]
    assert page.errors == []  # no dialog opened, no script error


def test_demo_page_runs_under_its_strict_policy(live_server, browser_page):
    page = browser_page
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    response = page.goto(f"{live_server.url}/demo/storm-1")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("[data-readalso-article]").scroll_into_view_if_needed()
    page.wait_for_selector("[data-readalso-state='rendered'] .readalso__link", timeout=10_000)
    # The widget's own <style> carries its script's nonce, so the policy lets it apply.
    assert page.evaluate("getComputedStyle(document.querySelector('.readalso')).borderTopWidth") == "3px"
    assert violations == [] and page.errors == []
