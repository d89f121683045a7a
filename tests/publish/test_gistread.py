"""A public Gist read back for review (publish/gistread.py): its id in every URL form."""

from __future__ import annotations

import pytest

from runlocalai_bench.errors import ConfigError
from runlocalai_bench.publish.gistread import gist_id_from_url


@pytest.mark.parametrize(("url", "gist_id"), [
    ("https://gist.github.com/someone/abc123", "abc123"),  # the README's example
    ("https://gist.github.com/someone/0123456789abcdef0123", "0123456789abcdef0123"),
    ("https://gist.github.com/0123456789abcdef0123456789abcdef",
     "0123456789abcdef0123456789abcdef"),
    ("https://gist.github.com/someone/1234567.git", "1234567"),  # an old numeric id
    ("https://gist.github.com/someone/abc123#file-run-log", "abc123"),
])
def test_gist_ids_in_every_url_form(url, gist_id):
    assert gist_id_from_url(url) == gist_id


@pytest.mark.parametrize("url", ["https://gist.github.com/someone",
                                 "https://gist.github.com/", "https://gist.github.com/u/x-y"])
def test_urls_without_a_gist_id_are_refused(url):
    with pytest.raises(ConfigError, match="not a Gist URL"):
        gist_id_from_url(url)
