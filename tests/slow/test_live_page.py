"""The web page's live mode end to end in real Chromium: its fake microphone plays a recording
of three real clips with pauses between them, the page streams it to `wise serve` a quarter
second at a time, and each phrase appears with its emotion and the right words, the timeline
strip growing as they come."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wise.testing.browser import chromium, missing_browser, must_run
from wise.testing.recordings import join_clips
from wise.testing.service import start_service, stop_service

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ravdess" / "Actor_10"
WORDS = {"kids are talking by the door", "dogs are sitting by the door"}


@pytest.fixture(scope="module")
def microphone(tmp_path_factory) -> Path:
    """Three clips with 2-3 s pauses, then 4 s of silence, as the 16-bit 48 kHz WAV that
    Chromium plays as its microphone."""
    folder = tmp_path_factory.mktemp("mic")
    placed = join_clips(sorted(FIXTURES.glob("*.flac"))[:3], folder / "joined.wav",
                        gaps_s=(2.0, 3.0), sample_rate=48000)
    x, sr = sf.read(folder / "joined.wav", dtype="float32")
    path = folder / "mic.wav"
    sf.write(path, np.concatenate([x, np.zeros(4 * sr, np.float32)]), sr, subtype="PCM_16")
    assert len(placed) == 3
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    why = missing_browser()
    if why and must_run():
        pytest.fail(why + "; WISE_REQUIRE_BROWSER=1 makes this a failure")
    if why:
        pytest.skip(why)
    log = tmp_path_factory.mktemp("live-page") / "server.log"
    proc, url = start_service(["--workers", "1"], log)
    try:
        yield url
    finally:
        assert stop_service(proc) == 0, log.read_text()


def test_live_mode_shows_each_phrase_with_its_words(service, microphone, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(tmp_path / "profile", microphone=microphone) as browser:
        browser.get(f"{service}/")
        browser.find_element(By.ID, "live-toggle").click()
        WebDriverWait(browser, 15).until(
            lambda d: d.execute_script("return document.body.dataset.live") == "listening")
        # The recording lasts about 20 s; phrases appear while it plays.
        WebDriverWait(browser, 60).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#live-phrases .phrase")) >= 3)
        browser.find_element(By.ID, "live-toggle").click()
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return document.body.dataset.live") == "stopped")
        assert not browser.find_element(By.ID, "error").is_displayed()
        rows = browser.find_elements(By.CSS_SELECTOR, "#live-phrases .phrase")
        assert len(rows) == 3
        for row in rows:
            words = " ".join(w.text for w in row.find_elements(By.CSS_SELECTOR, ".word"))
            assert words in WORDS, words
            assert row.get_attribute("data-label") in ("ang", "hap", "neu", "sad")
            emotion = row.find_element(By.CSS_SELECTOR, ".emotion").text
            assert emotion.split()[0] in ("angry", "happy", "neutral", "sad")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#live-strip span")) == 3


def test_a_file_longer_than_one_prediction_is_followed_phrase_by_phrase(service, tmp_path):
    """The server refuses a 70-s upload for one prediction (413, over --max-seconds): the
    page decodes it and sends it through a live session, and lists its phrases."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    path = tmp_path / "long.flac"
    placed = join_clips(sorted(FIXTURES.glob("*.flac")), path, gaps_s=(13.0, 14.0))
    assert sf.info(path).duration > 60
    with chromium(tmp_path / "profile") as browser:
        browser.get(f"{service}/")
        browser.find_element(By.ID, "audio-file").send_keys(str(path))
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 120).until(
            lambda d: d.execute_script("return document.body.dataset.live") == "stopped")
        assert not browser.find_element(By.ID, "error").is_displayed()
        rows = browser.find_elements(By.CSS_SELECTOR, "#live-phrases .phrase")
        assert len(rows) == len(placed)
        for row in rows:
            words = " ".join(w.text for w in row.find_elements(By.CSS_SELECTOR, ".word"))
            assert words in WORDS, words
        assert "the whole file" in browser.find_element(By.ID, "live-status").text
