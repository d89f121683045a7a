"""Redaction: shapes, environment values, the home directory, JSON trees."""

from __future__ import annotations

import pytest

from runlocalai_bench import redact as redact_mod
from runlocalai_bench.redact import MASK, redact, redact_tree, redact_url

GH = "ghp_" + "A1b2" * 9


@pytest.mark.parametrize(("text", "expected"), [
    (f"token {GH} here", f"token {MASK} here"),
    ("Authorization: Bearer abc.def-123456", f"Authorization: Bearer {MASK}"),
    ("token=abcdefgh12", f"token={MASK}"),  # at the start of a line too
    ("password: hunter2222", f"password: {MASK}"),
    ("x?api_key=abcdefgh&y=1", f"x?api_key={MASK}&y=1"),
    ('{"access_token": "abcdefghijk"}', f'{{"access_token": "{MASK}"}}'),
    ("https://user:pw123@host/x", f"https://{MASK}@host/x"),
    ("mytoken=abcdefghij", "mytoken=abcdefghij"),  # not a key boundary
    ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {MASK}"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", f"Bearer {MASK}"),
    # prose from MMLU questions stays as it is
    ("based on basic universal principles", "based on basic universal principles"),
    ("a bearer instrument. Basic Economics", "a bearer instrument. Basic Economics"),
    ("Türkçe soru: hangisi doğrudur?", "Türkçe soru: hangisi doğrudur?"),
])
def test_shapes(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(("url", "expected"), [
    # userinfo of any form goes whole
    ("http://TOKEN123@127.0.0.1:8080/v1", f"http://{MASK}@127.0.0.1:8080/v1"),
    ("https://user:pass@host/v1", f"https://{MASK}@host/v1"),
    ("http://:pass@host", f"http://{MASK}@host"),
    ("http://us%40er:p%3Ass@host:1/x", f"http://{MASK}@host:1/x"),
    ("http://a@b@host/x", f"http://{MASK}@host/x"),
    # every query parameter keeps its name and loses its value; a bare one goes whole
    ("http://h/v1?x=1&key=VALUE", f"http://h/v1?x={MASK}&key={MASK}"),
    ("http://h/v1?api_key=abcdefgh", f"http://h/v1?api_key={MASK}"),
    ("http://h/v1?TOKENONLY&a=", f"http://h/v1?{MASK}&a="),
    ("http://h/v1?k=abc#section", f"http://h/v1?k={MASK}#section"),
    # all at once, inside a quoted command line, and nothing else touched
    ("rla bench mmlu --endpoint 'http://T0K@h:8080/v1?k=V&s=W' --model m",
     f"rla bench mmlu --endpoint 'http://{MASK}@h:8080/v1?k={MASK}&s={MASK}' --model m"),
    ("http://127.0.0.1:8080/v1/completions", "http://127.0.0.1:8080/v1/completions"),
    ("mail me at someone@example.com", "mail me at someone@example.com"),
    ("see https://gist.github.com/someone/abc123.", "see https://gist.github.com/someone/abc123."),
])
def test_url_policy(url, expected):
    assert redact_url(url) == expected
    assert redact(url) == expected
    assert redact(expected) == expected  # a second pass changes nothing more


def test_url_policy_is_linear():
    import time

    started = time.perf_counter()
    for text in ("://" * 20_000, "http://" + "@" * 60_000, "http://h/?" + "&" * 60_000,
                 "a" * 60_000 + "://"):
        redact(text)
    assert time.perf_counter() - started < 5  # a generous bound: quadratic would take minutes


def test_environment_secrets_and_extra_values(monkeypatch):
    monkeypatch.setenv("RLA_SUBMIT_TOKEN", "plainvalue-123")
    redact_mod.refresh()
    assert redact("sent plainvalue-123 and other-secret-9",
                  extra=("other-secret-9",)) == f"sent {MASK} and {MASK}"


def test_a_short_string_redacted_again_follows_the_environment(monkeypatch, tmp_path):
    """Short strings' redacted forms are kept (backends return the same tokens thousands of
    times); a changed secret or home directory must not be answered from what was kept."""
    monkeypatch.setenv("RLA_SUBMIT_TOKEN", "plainvalue-123")
    redact_mod.refresh()
    assert redact("plainvalue-123") == MASK
    assert redact("plainvalue-123") == MASK  # kept
    monkeypatch.delenv("RLA_SUBMIT_TOKEN")
    redact_mod.refresh()
    assert redact("plainvalue-123") == "plainvalue-123"
    monkeypatch.setenv("HOME", str(tmp_path / "one"))
    assert redact(f"{tmp_path}/one/m.gguf") == "~/m.gguf"
    monkeypatch.setenv("HOME", str(tmp_path / "two"))  # no refresh: HOME is read each time
    assert redact(f"{tmp_path}/one/m.gguf") == f"{tmp_path}/one/m.gguf"
    assert redact(f"{tmp_path}/two/m.gguf") == "~/m.gguf"


def test_home_as_given_and_as_resolved(monkeypatch, tmp_path):
    real = tmp_path / "real-home"
    real.mkdir()
    link = tmp_path / "home-link"
    link.symlink_to(real)
    monkeypatch.setenv("HOME", str(link))
    assert redact(f"{link}/models/a.gguf and {real}/b") == "~/models/a.gguf and ~/b"
    assert redact(f"{link}-other/x") == f"{link}-other/x"
    assert redact(f"models live in {link}.") == "models live in ~."


def test_redact_tree_reaches_keys_values_and_lists(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    tree = {"prompt": f"key {GH}", f"{tmp_path}/k": [f"{tmp_path}/x", 1, None, {"t": GH}]}
    assert redact_tree(tree) == {"prompt": f"key {MASK}", "~/k": ["~/x", 1, None, {"t": MASK}]}


def test_every_pattern_is_reached_through_the_fast_path():
    samples = [GH, "github_pat_" + "a" * 30, "hf_" + "a" * 30, "sk-proj-" + "a" * 30,
               "xoxb-" + "1" * 12, "AKIA" + "A" * 16, "bearer abcd3fghij", "Basic dXNlcjpwYXNz",
               "authorization: token abcdefghij", "apikey=abcdefghij", "secret: abcdefghij",
               "passwd=abcdefghij", "http://u:p@h"]
    for text in samples:
        assert redact(f"x {text} y") != f"x {text} y", text


@pytest.mark.slow
@pytest.mark.parametrize(("slug", "folder"), [("mmlu", "mmlu"),
                                              ("turkish-mmlu-generative", "turkishmmlu")])
def test_no_benchmark_prompt_looks_like_a_secret(slug, folder, monkeypatch):
    """samples.jsonl is redacted line by line: a real question must come through unchanged
    (replay matches prompts exactly), so no shape may fire on benchmark text."""
    from runlocalai_bench.evals import load_eval
    from runlocalai_bench.types import DataSource
    from tests.support.data import benchmark_data

    data = benchmark_data(folder) / folder
    monkeypatch.setenv("HOME", "/root")  # a home that benchmark text might well mention
    eval_ = load_eval(slug)
    dataset = eval_.load(DataSource(kind="dir", path=str(data)))
    changed = [item.id for item in dataset.items
               if (p := eval_.build_prompt(item, dataset, "completion").rendered()) != redact(p)]
    assert changed == []
