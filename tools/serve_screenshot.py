"""A picture of `adain serve` in use (docs/images/serve_screenshot.jpg): starts the server on a free
local port, drives the page with Playwright (Debian's chromium, headless) as a user would, and saves
a JPEG.  tests/test_serve_browser.py drives the page the same way.

    .venv/bin/python tools/serve_screenshot.py [--out docs/images/serve_screenshot.jpg]

Content: the built-in cat; styles: both built-in styles, weights 1 and 0.6; AdaIN at 512 px.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("adain serve did not start")


def drive(url: str, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_selector("#run")
        page.get_by_role("button").filter(has=page.locator("img[src*='chelsea']")).first.click()
        page.wait_for_function("document.querySelector('#content-info').innerText.includes('×')")
        thumbnails = page.locator("#style-gallery button.thumbnail-item")
        thumbnails.nth(0).click()
        page.wait_for_selector("#style-1 img")
        thumbnails.nth(1).click()
        page.wait_for_selector("#style-2 img")
        page.locator("#weight-2 input[type=range]").focus()
        for _ in range(8):  # weight 2: 1.0 → 0.6
            page.keyboard.press("ArrowLeft")
        page.locator("#run").click()
        page.wait_for_function("() => { const img = document.querySelector('#output img');"
                               " return img && img.complete && img.naturalWidth > 0; }")
        page.mouse.move(0, 0)
        page.screenshot(path=str(png), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "serve_screenshot.jpg")
    parser.add_argument("--width", type=int, default=1000, help="width of the saved JPEG")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "adain", "serve", "--port", str(port)], cwd=REPO)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", server)
        png = args.out.with_suffix(".png")
        drive(f"http://127.0.0.1:{port}/", png)
    finally:
        server.terminate()
        server.wait(timeout=30)
    image = Image.open(png).convert("RGB")
    image = image.resize((args.width, round(image.height * args.width / image.width)), Image.Resampling.LANCZOS)
    image.save(args.out, quality=82, optimize=True)
    png.unlink()
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
