"""A real headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
`make tools`) driven by Selenium, for tests of the client portal's pages.

The flags keep it from reaching for the internet (the test machines have none, and without
them Chromium stalls on its background connections) and from needing a sandbox as root.
Screenshots go under `.run/screenshots/<folder>/` for people to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[5]
SCREENSHOTS = REPO / ".run" / "screenshots"
WAIT_SECONDS = 20.0

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--password-store=basic",
    "--window-size=1280,900",
)


def browser_available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


class Browser:
    """One Chromium window: go to pages, find, click, type, wait, screenshot."""

    def __init__(self, driver: webdriver.Chrome, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots
        self._shots = 0

    def get(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def find(self, css: str) -> WebElement:
        return WebDriverWait(self.driver, WAIT_SECONDS).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    def click(self, css: str) -> None:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
        ).click()

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def wait_for_text(self, text: str, css: str = "body") -> None:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )

    def wait_for_url(self, pattern: str) -> None:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda d: re.search(pattern, str(d.current_url)) is not None
        )

    def text(self, css: str = "body") -> str:
        return str(self.find(css).text)

    def script(self, source: str) -> object:
        return self.driver.execute_script(source)

    def console_errors(self) -> list[str]:
        """The page's console errors so far (a CSP violation is one)."""
        return [
            str(entry.get("message"))
            for entry in self.driver.get_log("browser")  # type: ignore[no-untyped-call]
            if entry.get("level") == "SEVERE"
        ]

    def document_requests(self) -> list[str]:
        """The URLs the browser asked for pages at so far (redirect targets included), from
        its DevTools log: where a page led even when it could not be opened."""
        urls = []
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            params = message.get("params", {})
            if params.get("type") == "Document":
                urls.append(str(params["request"]["url"]))
        return urls

    def wait_for_document_request(self, pattern: str) -> str:
        """The first page URL matching `pattern` the browser asked for (waiting for it)."""
        seen: list[str] = []

        def asked(_: object) -> str | bool:
            seen.extend(self.document_requests())
            return next((url for url in seen if re.search(pattern, url)), False)

        found = WebDriverWait(self.driver, WAIT_SECONDS).until(asked)
        return str(found)

    def screenshot(self, name: str) -> Path:
        self._shots += 1
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{self._shots:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@contextmanager
def chromium(screenshot_folder: str, *, mobile: bool = False) -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile directory, removed after)."""
    profile = tempfile.mkdtemp(prefix="agencyos-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if mobile:
        options.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}
        )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield Browser(driver, SCREENSHOTS / screenshot_folder)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
