"""The web page of `wise serve`, driven in headless Chromium (Debian's chromium and
chromedriver; nothing is downloaded). The server is the real command, `wise serve`, in a
subprocess, stopped with Ctrl-C (SIGINT) at the end, which must shut it down cleanly.

Without chromium the module is skipped, unless WISE_REQUIRE_BROWSER=1 (CI), where that fails."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from wise.testing.browser import chromium, missing_browser, must_run
from wise.testing.service import start_service, stop_service

pytestmark = pytest.mark.slow

NAMES = {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"}


def _need_browser() -> None:
    why = missing_browser()
    if why and must_run():
        pytest.fail(why + "; WISE_REQUIRE_BROWSER=1 makes this a failure")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def server(trained_model, tmp_path_factory) -> Iterator[str]:
    """`wise serve` on a free port; checks at the end that Ctrl-C stops it cleanly."""
    log = tmp_path_factory.mktemp("web") / "server.log"
    proc, url = start_service([str(trained_model["model"]), "--workers", "1"], log)
    try:
        yield url
    finally:
        status = stop_service(proc)
    out = log.read_text()
    assert status == 0, out
    assert "Traceback" not in out and "prediction workers stopped" in out, out


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:
    _need_browser()
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def submit(driver, url: str, audio: Path | None, text: str = "") -> str:
    """Open the page, fill the form, submit, wait for the answer: "done" or "error"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if audio is not None:
        driver.get(f"{url}/")
        driver.find_element(By.ID, "audio-file").send_keys(str(audio))
    driver.find_element(By.ID, "text").clear()
    driver.find_element(By.ID, "text").send_keys(text)
    driver.execute_script("document.body.dataset.state = ''")
    driver.find_element(By.ID, "submit").click()
    return WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.state") in ("done", "error")
        and d.execute_script("return document.body.dataset.state"))


def test_upload_with_transcript(browser, server, trained_model):
    from selenium.webdriver.common.by import By

    row = next(r for r in trained_model["rows"] if r.words)
    files = {"audio": ("clip.wav", Path(row.audio).read_bytes()),
             "text": (None, row.text.encode())}
    # The aligner keeps a little state after its first call in a process (word times can move
    # by 10 ms): compare the page with a second call, not the worker's first.
    httpx.post(f"{server}/predict", files=files, timeout=60)
    expected = httpx.post(f"{server}/predict", files=files, timeout=60).json()
    assert submit(browser, server, Path(row.audio), row.text) == "done"

    assert not browser.find_element(By.ID, "error").is_displayed()
    label = browser.find_element(By.ID, "label")
    assert label.text.lower() in NAMES.values()
    assert label.text.lower() == expected["label_name"]
    assert label.get_attribute("data-label") == expected["label"]

    bars = browser.find_elements(By.CSS_SELECTOR, ".prob[data-label]")
    assert sorted(b.get_attribute("data-label") for b in bars) == sorted(NAMES)
    for code, p in expected["probabilities"].items():
        bar = browser.find_element(By.CSS_SELECTOR, f".prob[data-label={code}]")
        assert float(bar.get_attribute("data-probability")) == pytest.approx(p, abs=1e-3)
        width = bar.find_element(By.CSS_SELECTOR, ".fill").value_of_css_property("width")
        assert width.endswith("px")

    words = browser.find_elements(By.CSS_SELECTOR, "#transcript .word[data-attention]")
    assert [w.text for w in words] == [w["word"] for w in expected["words"]]
    for element, w in zip(words, expected["words"], strict=True):
        assert float(element.get_attribute("data-attention")) == pytest.approx(w["attention"],
                                                                               abs=1e-3)
        assert element.get_attribute("style").startswith("background-color: rgba(")
        assert "attention" in element.get_attribute("title")
    assert "as given" in browser.find_element(By.ID, "source").text


def test_an_example_clip_is_one_click(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/")
    buttons = WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#example-buttons button"))
    assert len(buttons) == 8 and browser.find_element(By.ID, "examples").is_displayed()
    browser.execute_script("document.body.dataset.state = ''")
    buttons[0].click()
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.body.dataset.state") == "done")
    truth = browser.find_element(By.ID, "truth").text
    assert truth.startswith("True emotion: ") and buttons[0].get_attribute("data-example") in truth
    assert browser.find_element(By.ID, "label").text.lower() in NAMES.values()
    assert browser.find_element(By.ID, "playback").is_displayed()


def test_corrupt_file_shows_error(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk" * 20)
    assert submit(browser, server, bad) == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed()
    assert "broken.wav: not a readable audio file" in error.text
    assert not browser.find_element(By.ID, "result").is_displayed()


def test_recording_makes_a_wav(browser, server):
    """Chromium's fake microphone (a beep): the page records PCM and uploads a 16-bit WAV."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/")
    record = browser.find_element(By.ID, "record")
    record.click()
    WebDriverWait(browser, 10).until(lambda d: "recording" in d.find_element(
        By.ID, "record-status").text)
    time.sleep(1.5)
    record.click()
    WebDriverWait(browser, 10).until(lambda d: "recorded" in d.find_element(
        By.ID, "record-status").text)
    assert browser.find_element(By.ID, "playback").is_displayed()

    encoded = browser.execute_async_script("""
        const done = arguments[0];
        recorded.arrayBuffer().then((buf) => {
          let s = "";
          for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
          done(btoa(s));
        });""")
    info = sf.info(io.BytesIO(base64.b64decode(encoded)))
    assert info.format == "WAV" and info.subtype == "PCM_16" and info.channels == 1
    assert 1.0 < info.duration < 3.0

    state = submit(browser, server, None)
    if state == "error":  # a beep has no words to find; the upload itself must be readable
        assert "readable" not in browser.find_element(By.ID, "error").text
    else:
        assert browser.find_element(By.ID, "result").is_displayed()
