"""The browser (tests/support/browser.py) is one headless Chromium for the session; `page`
hands it to a test with the console's earlier entries drained. Where Chromium, its driver or
Selenium is missing the tests skip with the reason (RLA_REQUIRE_TEST_DATA=1: they fail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Page, absent
from tests.support.data import unavailable


@pytest.fixture(scope="session")
def _browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    reason = absent()
    if reason is not None:
        unavailable(reason)
    page = Page(tmp_path_factory.mktemp("chromium-profile"))
    yield page
    page.close()


@pytest.fixture
def page(_browser: Page) -> Page:
    """The session's Chromium, its console's entries so far read and dropped."""
    _browser.console_errors()
    return _browser
