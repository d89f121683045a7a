"""The browser harness can fail: a page's console error is seen, its ready mark is timed by the
page's own clock, and a page that never marks itself ready is an error, not a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import Page

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head>
<body><p id="text">text</p><script>
console.error("a broken widget");
setTimeout(function () { document.documentElement.setAttribute("data-ready", "1"); }, 300);
</script></body></html>"""


def test_console_errors_and_the_ready_mark_are_seen(page: Page, tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    html.write_text(PAGE)
    ready_s = page.open(html)
    assert 0.3 <= ready_s < 10
    errors = page.console_errors()
    assert len(errors) == 1 and "a broken widget" in errors[0], errors
    assert page.console_errors() == []  # read once
    assert page.screenshot(tmp_path / "page.png").stat().st_size > 0


def test_a_page_that_never_gets_ready_times_out(page: Page, tmp_path: Path) -> None:
    from selenium.common.exceptions import TimeoutException

    html = tmp_path / "never.html"
    html.write_text(PAGE.replace("setAttribute", "removeAttribute"))
    with pytest.raises(TimeoutException, match=r'never\.html: no <html data-ready="1">'):
        page.open(html, timeout=1)
