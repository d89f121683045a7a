"""Headless Chromium for the report's tests and benchmark: Debian's /usr/bin/chromium driven
through Selenium and Debian's own /usr/bin/chromedriver (scripts/system-packages.sh installs
both). Both paths are given, so Selenium Manager never looks for, or downloads, a browser or a
driver. Each browser gets a fresh profile and no network chatter of its own.

`page.open(report)` loads a file and waits for the page's `<html data-ready="1">` (the report's
DOM contract: set once its interactive parts are rendered); `page.console_errors()` are the
console's SEVERE entries since the last call.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000")
# Installed before the page's own scripts run (the document has no <html> yet, so it watches the
# whole document): the moment the page marks itself ready, in ms since navigation start by the
# page's own clock, whenever the poll below comes to read it.
READY_OBSERVER = """
new MutationObserver((changes, observer) => {
  const root = document.documentElement;
  if (root && root.getAttribute("data-ready") === "1") {
    window.__rlaReadyAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-ready"]});
"""


def absent() -> str | None:
    """Why no browser can be driven here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            return (f"{path} not found: install Debian's {package} (scripts/setup.sh --server"
                    " runs scripts/system-packages.sh)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra: pip install -e '.[dev]')"
    return None


class Page:
    """One Chromium window, opened on local files; `javascript=False` runs none of a page's
    scripts (as a reader who turned JavaScript off, or a print of the page without it)."""

    def __init__(self, profile: Path, *, javascript: bool = True) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if not javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2})
        self.profile = profile
        self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                                       options=options)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": READY_OBSERVER})

    def open(self, path: Path, timeout: float = 30.0) -> float:
        """Load `path` and wait until the page is ready; the seconds from navigation start to
        `data-ready="1"`, by the page's own clock."""
        from selenium.webdriver.support.ui import WebDriverWait

        self.load(path)
        WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(
            lambda driver: driver.execute_script("return window.__rlaReadyAt") is not None,
            message=f"{path.name}: no <html data-ready=\"1\"> within {timeout:g} s")
        return float(self.driver.execute_script("return window.__rlaReadyAt")) / 1000

    def load(self, path: Path) -> None:
        """Load `path` (until its load event), whether or not it marks itself ready."""
        if not path.is_file():
            raise FileNotFoundError(f"no page to open: {path}")
        self.driver.get(path.resolve().as_uri())

    def one(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def choose(self, select_id: str, value: str) -> None:
        """Pick `value` in `<select id=select_id>` as a user does (a click on the option)."""
        from selenium.webdriver.support.ui import Select

        Select(self.one(f"#{select_id}")).select_by_value(value)

    def type_into(self, input_id: str, text: str) -> None:
        """Replace what `<input id=input_id>` holds with `text`, typed key by key."""
        from selenium.webdriver.common.keys import Keys

        field = self.one(f"#{input_id}")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        if text:
            field.send_keys(text)

    def options(self, select_id: str) -> list[str]:
        """The values `<select id=select_id>` offers, "" (all) included."""
        return [o.get_attribute("value") for o in self.all(f"#{select_id} option")]

    def count(self, expected: int, timeout: float = 5.0) -> int:
        """`#sample-count`'s data-count once it reads `expected`, or as it reads after
        `timeout` seconds (a page may update it a moment after the event that changed it)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = int(self.one("#sample-count").get_attribute("data-count"))
            if seen == expected or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    def clipped_svg_text(self) -> list[str]:
        """The text of every inline SVG's label that runs past its drawing's viewBox (cut off
        on screen and in print), as laid out here."""
        return list(self.driver.execute_script("""
            const clipped = [];
            for (const svg of document.querySelectorAll("svg")) {
              const box = svg.viewBox.baseVal;
              if (!box || !box.width) continue;
              for (const text of svg.querySelectorAll("text")) {
                const b = text.getBBox();
                if (b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5
                    || b.y < box.y - 0.5 || b.y + b.height > box.y + box.height + 0.5) {
                  clipped.push(text.textContent);
                }
              }
            }
            return clipped;"""))

    def console_errors(self) -> list[str]:
        """The console's SEVERE entries since the last call (reading them clears them)."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE"]

    @contextmanager
    def as_printed(self) -> Iterator[None]:
        """The page under its print styles (CSS media "print") while the block runs."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            yield
        finally:
            self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    def pdf(self, path: Path) -> Path:
        """The page printed to `path` as Chromium prints it (A4-ish defaults, no header)."""
        printed = self.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})
        path.write_bytes(base64.b64decode(printed["data"]))
        if not path.read_bytes().startswith(b"%PDF-"):
            raise AssertionError(f"{path} is not a PDF")
        return path

    def screenshot(self, path: Path) -> Path:
        """The window as a PNG at `path`."""
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"Chromium saved no screenshot to {path}")
        if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            raise AssertionError(f"{path} is not a PNG")
        return path

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)
