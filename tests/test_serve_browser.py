"""The web demo in a real browser: `python -m adain serve` on a free port, driven by Playwright
through Debian's headless Chromium.  Screenshots go to each test's tmp_path.

Needs the gradio and playwright packages (requirements.txt) and /usr/bin/chromium
(scripts/setup_env.sh installs it with apt-get where it runs as root); skips without them.
"""

from __future__ import annotations

import importlib.util
import io
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_image
from gated_serve import GatedServer

CHROMIUM = Path("/usr/bin/chromium")
MISSING = [name for name in ("gradio", "playwright") if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed (bash scripts/setup_env.sh)"),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium (apt-get install chromium)"),
]
MAX_PIXELS = 300_000  # the server's size cap, kept small (above the 512² built-in styles) so the
# "too large" upload is small too
# A hang guard only (Playwright's waits need one): every wait here ends on an event in the page
# (the output image or an error toast), and a 128-px request takes seconds on a busy 2-core CPU.
HANG_GUARD_MS = 30 * 60_000


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=HANG_GUARD_MS / 1000) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m adain serve` in a subprocess (tests/gated_serve.py without a gate: the same
    server, which says when it is up); yields its URL."""
    server = GatedServer(tmp_path_factory.mktemp("server") / "serve.log", False, "--device", "cpu",
                         "--max-pixels", str(MAX_PIXELS))
    try:
        ready = server.report()  # blocks until the server answers, however long it takes to start
        assert ready.startswith("ready http://"), ready
        yield ready.split()[1]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#run")
    yield page
    context.close()


def upload_content(page, path: Path) -> None:
    page.locator("#content input[type=file]").set_input_files(str(path))


def run_and_wait(page, previous_src: str | None = None) -> str:
    """Press Stylise and wait for an output image other than `previous_src`; returns its URL."""
    page.locator("#run").click()
    outcome = page.wait_for_function(
        "prev => { const img = document.querySelector('#output img');"
        " if (img && img.complete && img.naturalWidth > 0 && img.src !== prev) return 'ok';"
        " const toast = document.querySelector('[data-testid=toast-body].error');"
        " return toast ? 'error: ' + toast.innerText : false; }", arg=previous_src or "").json_value()
    assert outcome == "ok", outcome
    return page.locator("#output img").get_attribute("src")


def fetch_image(page, src: str) -> Image.Image:
    response = page.request.get(src)
    assert response.ok
    return Image.open(io.BytesIO(response.body())).convert("RGB")


def test_stylise_in_the_browser(page, tmp_path):
    content = write_image(tmp_path / "photo.png", 192, 128, seed=5)  # 3:2
    upload_content(page, content)
    page.wait_for_function("document.querySelector('#content-info').innerText.includes('192×128')")
    page.locator("#style-gallery button.thumbnail-item").first.click()  # the first built-in style
    page.wait_for_selector("#style-1 img")
    page.locator("#size input").click()
    page.get_by_role("option", name="128 px (preview)").click()

    alpha = page.locator("#alpha input[type=range]")
    alpha.focus()
    for _ in range(10):  # step 0.05: 1.0 → 0.5, as a keyboard user moves a slider
        page.keyboard.press("ArrowLeft")
    assert float(page.locator("#alpha input[type=number]").input_value()) == pytest.approx(0.5)
    page.screenshot(path=str(tmp_path / "1-ready.png"), full_page=True)

    first_src = run_and_wait(page)
    first = fetch_image(page, first_src)
    page.screenshot(path=str(tmp_path / "2-alpha-0.5.png"), full_page=True)
    assert first.size == (192, 128)  # shorter side 128, the content's 3:2 kept
    shown = page.locator("#output img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert shown[0] / shown[1] == pytest.approx(192 / 128, abs=0.01)
    assert "AdaIN: 192×128 px" in page.locator("#status").inner_text()
    assert page.locator("#download").is_visible()

    alpha.focus()
    page.keyboard.press("End")  # α = 1
    assert float(page.locator("#alpha input[type=number]").input_value()) == 1.0
    second = fetch_image(page, run_and_wait(page, first_src))
    page.screenshot(path=str(tmp_path / "3-alpha-1.png"), full_page=True)
    assert second.size == first.size
    difference = np.abs(np.asarray(first, np.float64) - np.asarray(second, np.float64)).mean()
    assert difference > 2.0, f"output barely changed with α (mean |Δ| = {difference:.2f} grey levels)"

    page.locator("#color").get_by_label("the style's, photo recoloured first").check()
    third = fetch_image(page, run_and_wait(page, page.locator("#output img").get_attribute("src")))
    page.screenshot(path=str(tmp_path / "4-style-colours.png"), full_page=True)
    difference = np.abs(np.asarray(second, np.float64) - np.asarray(third, np.float64)).mean()
    assert third.size == second.size and difference > 1.0, f"the style's colours changed nothing ({difference:.2f})"


def test_bad_uploads_show_a_message_and_the_server_keeps_serving(page, server, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    not_image = folder / "notes.png"
    not_image.write_text("this is a text file, not a picture")
    too_large = write_image(folder / "big.png", 640, 480)  # 307,200 pixels > MAX_PIXELS
    cases = [(not_image, "content notes.png: not an image file"),
             (too_large, "content big.png: 640x480 is 307,200 pixels, over the limit of 300,000")]
    for number, (path, message) in enumerate(cases, 1):
        upload_content(page, path)
        page.wait_for_function("m => document.querySelector('#content-info').innerText.includes(m)", arg=message)
        page.screenshot(path=str(tmp_path / f"{number}-bad-upload.png"), full_page=True)

    page.locator("#style-gallery button.thumbnail-item").first.click()
    page.wait_for_selector("#style-1 img")
    page.locator("#run").click()  # stylising the bad upload anyway: an error toast, not a crash
    toast = page.locator("[data-testid=toast-body].error").filter(has_text=cases[-1][1])
    toast.wait_for()
    assert toast.count() == 1
    page.locator("[data-testid=toast-close]").first.click()
    page.locator("[data-testid=toast-body]").first.wait_for(state="detached")

    assert answers(server)  # the server still answers, and still works
    good = write_image(folder / "good.png", 96, 128, seed=7)
    upload_content(page, good)
    page.wait_for_function("document.querySelector('#content-info').innerText.includes('96×128')")
    page.locator("#size input").click()
    page.get_by_role("option", name="128 px (preview)").click()
    output = fetch_image(page, run_and_wait(page))
    page.screenshot(path=str(tmp_path / "3-recovered.png"), full_page=True)
    assert output.size == (128, 171)  # shorter side 128, the 3:4 kept
