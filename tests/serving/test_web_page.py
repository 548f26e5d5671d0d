"""The web chat in a real headless Chromium (Debian's package, driven by Playwright): the page
renders (non-blank screenshot), a full exchange completes with the denoising canvas drawn live,
and the answer, tokens/s and NFE are shown."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency (extra serve-test)")
if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is absent: apt-get install -y chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def test_page_renders_and_a_full_exchange_completes(browser, live, expected, tmp_path):
    from PIL import Image

    page = browser.new_page(viewport={"width": 1100, "height": 700})
    frames = []
    page.on("response", lambda response: frames.append(response.url))
    page.goto(live.url + "/")
    page.fill("#key", live.api_key)
    page.dispatch_event("#key", "change")
    page.wait_for_function("document.querySelector('#generator').options.length > 0")
    assert page.input_value("#generator") == "llada"
    page.fill("#length", "16")
    page.fill("#steps", "16")
    page.fill("#block", "8")
    page.evaluate("""() => {  // count canvases drawn while the answer denoises
        window.canvasFrames = 0;
        new MutationObserver(() => { if (document.querySelector('.assistant .canvas')) window.canvasFrames++; })
            .observe(document.querySelector('#chat'), {childList: true, subtree: true});
    }""")
    page.fill("#prompt", "1200\n3400\n0000\n4321")
    page.click("#send")
    page.wait_for_selector(".assistant[data-state=done]", timeout=120_000)
    answer = page.inner_text(".assistant")
    want = expected(["1200\n3400\n0000\n4321"], length=16, steps=16, block=8)[0]
    assert answer.startswith(want)
    assert "NFE 16" in answer and "tokens/s" in answer
    assert page.evaluate("window.canvasFrames") >= 2  # the canvas was redrawn as masks filled in
    assert page.inner_text("#status") == ""
    shot = page.screenshot(path=str(tmp_path / "page.png"))
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    assert image.size == (1100, 700)
    assert len(image.getcolors(maxcolors=1 << 20)) > 20  # text, header and panels, not a blank page
    page.close()


def test_page_shows_a_server_error(browser, live):
    page = browser.new_page()
    page.goto(live.url + "/")
    page.fill("#key", live.api_key)
    page.dispatch_event("#key", "change")
    page.wait_for_function("document.querySelector('#generator').options.length > 0")
    page.fill("#steps", "3")  # not a multiple of the number of blocks: the server refuses
    page.fill("#length", "16")
    page.fill("#block", "8")
    page.fill("#prompt", "12")
    page.click("#send")
    page.wait_for_selector(".assistant[data-state=error]", timeout=60_000)
    assert "multiple" in page.inner_text("#status")
    page.close()
