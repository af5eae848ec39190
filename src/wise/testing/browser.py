"""Headless Chromium through selenium, for the tests of the web page: Debian's `chromium` and
`chromedriver` (nothing is downloaded), a fresh profile, no network beyond the page, and a
fake microphone (a beep, or a WAV file played once)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_ENV = "WISE_REQUIRE_BROWSER"


def missing_browser() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    return (f"browser test needs {', '.join(missing)} (apt-get install chromium "
            "chromium-driver)") if missing else ""


def must_run() -> bool:
    """CI sets WISE_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip."""
    return os.environ.get(REQUIRE_ENV) == "1"


@contextlib.contextmanager
def chromium(profile: Path, *, microphone: Path | None = None) -> Iterator:
    """A selenium driver for headless Chromium with `profile` as its user folder. Its
    microphone is Chromium's fake one: a beep, or `microphone` (a WAV file) played once."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--use-fake-ui-for-media-stream",
             "--use-fake-device-for-media-stream", f"--user-data-dir={profile}"]
    if microphone is not None:
        flags.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
