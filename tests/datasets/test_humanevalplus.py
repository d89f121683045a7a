"""HumanEval+ from the release file (.jsonl.gz or its gunzipped .jsonl) in --data-dir, from a
download into the cache (a real HTTP server on 127.0.0.1 stands in for GitHub), and bundled."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from runlocalai_bench.datasets import humanevalplus
from runlocalai_bench.errors import ConfigError, DataError
from runlocalai_bench.evals import load_eval, load_task_spec
from runlocalai_bench.types import CodeItem, DataSource
from tests.support.data import humanevalplus_dir

RELEASE = humanevalplus.Release.from_spec(
    "humaneval-plus", load_task_spec("humaneval-plus").data["dataset"])


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return humanevalplus_dir()


@pytest.fixture(scope="module")
def raw_rows(data_dir: Path) -> list[dict[str, object]]:
    """The release read directly, independent of rla's loader."""
    with gzip.open(data_dir / RELEASE.file, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_the_release_file_loads_pinned(data_dir: Path, raw_rows: list[dict[str, object]],
                                       tmp_path: Path) -> None:
    dataset = humanevalplus.load(RELEASE, DataSource(kind="dir", path=str(data_dir)), tmp_path)
    items = dataset.items
    assert len(items) == 164 == len(raw_rows)
    assert all(isinstance(item, CodeItem) for item in items)
    code_items = [item for item in items if isinstance(item, CodeItem)]
    assert sum(len(item.base_input) for item in code_items) == 1570
    assert sum(len(item.plus_input) for item in code_items) == 122683
    assert [item.id for item in items] == [row["task_id"] for row in raw_rows]
    first = code_items[0]
    assert first.entry_point == "has_close_elements"
    assert first.base_input[0] == [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3]
    assert {item.id for item in code_items if item.atol} == {"HumanEval/2", "HumanEval/4",
                                                            "HumanEval/32"}
    pin = dataset.pin
    assert pin.pinned and pin.source == "dir" and pin.revision == "v0.1.10"
    assert pin.content_sha256 == RELEASE.sha256 == hashlib.sha256(
        (data_dir / RELEASE.file).read_bytes()).hexdigest()
    assert not list(tmp_path.iterdir())  # nothing downloaded


def test_the_gunzipped_file_loads_pinned_too(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / RELEASE.plain_file).write_bytes(gzip.decompress(
        (data_dir / RELEASE.file).read_bytes()))
    dataset = humanevalplus.load(RELEASE, DataSource(kind="dir", path=str(tmp_path)), tmp_path)
    assert len(dataset.items) == 164 and dataset.pin.pinned
    assert dataset.pin.content_sha256 == RELEASE.plain_sha256


def test_a_modified_file_is_refused_unless_allowed(data_dir: Path, tmp_path: Path) -> None:
    lines = gzip.decompress((data_dir / RELEASE.file).read_bytes()).decode().splitlines()
    row = json.loads(lines[0])
    row["plus_input"] = row["plus_input"][:10]
    (tmp_path / RELEASE.plain_file).write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="not the pinned") as info:
        humanevalplus.load(RELEASE, DataSource(kind="dir", path=str(tmp_path)), tmp_path)
    assert "--allow-unpinned" in (info.value.hint or "")
    dataset = humanevalplus.load(
        RELEASE, DataSource(kind="dir", path=str(tmp_path), allow_unpinned=True), tmp_path)
    assert not dataset.pin.pinned and len(dataset.items[0].plus_input) == 10  # type: ignore[union-attr]


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="neither") as info:
        humanevalplus.load(RELEASE, DataSource(kind="dir", path=str(tmp_path)), tmp_path)
    assert RELEASE.url in (info.value.hint or "")
    (tmp_path / RELEASE.file).write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        humanevalplus.load(RELEASE, DataSource(kind="dir", path=str(tmp_path)), tmp_path)
    with pytest.raises(DataError, match="missing prompt"):
        humanevalplus.parse(json.dumps({"task_id": "x"}) + "\n", "here")


def test_the_bundled_sample_is_release_lines_unchanged(data_dir: Path, tmp_path: Path) -> None:
    dataset = humanevalplus.load(RELEASE, DataSource(kind="bundled"), tmp_path)
    assert dataset.pin.pinned and dataset.pin.source == "bundled"
    assert [item.id for item in dataset.items] == ["HumanEval/2", "HumanEval/32", "HumanEval/41",
                                                   "HumanEval/55", "HumanEval/63"]
    release_lines = set(gzip.decompress((data_dir / RELEASE.file).read_bytes())
                        .decode().splitlines())
    bundled = (humanevalplus.BUNDLED_DIR / RELEASE.sample_file).read_text().splitlines()
    assert bundled and all(line in release_lines for line in bundled)


def test_a_spec_without_its_dataset_fields_is_a_config_error() -> None:
    table = {name: "x" for name in humanevalplus.Release.__dataclass_fields__}
    del table["sha256"]
    with pytest.raises(ConfigError, match="lacks 'sha256'"):
        humanevalplus.Release.from_spec("x", table)


# -- download ---------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static file server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_into_the_cache_checks_the_hash(data_dir: Path, tmp_path: Path,
                                                 server: tuple[str, Path]) -> None:
    base, root = server
    (root / "HumanEvalPlus.jsonl.gz").write_bytes((data_dir / RELEASE.file).read_bytes())
    release = replace(RELEASE, url=f"{base}/HumanEvalPlus.jsonl.gz")
    cache = tmp_path / "cache"
    dataset = humanevalplus.load(release, DataSource(kind="hub"), cache)
    assert len(dataset.items) == 164 and dataset.pin.pinned and dataset.pin.source == "hub"
    assert (cache / RELEASE.file).read_bytes() == (data_dir / RELEASE.file).read_bytes()
    # Second load: from the cache, the server no longer needed.
    (root / "HumanEvalPlus.jsonl.gz").unlink()
    assert len(humanevalplus.load(release, DataSource(kind="hub"), cache).items) == 164


def test_a_republished_or_missing_release_is_refused(tmp_path: Path,
                                                     server: tuple[str, Path]) -> None:
    base, root = server
    (root / "HumanEvalPlus.jsonl.gz").write_bytes(gzip.compress(b'{"task_id": "x"}\n'))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="not the pinned"):
        humanevalplus.load(replace(RELEASE, url=f"{base}/HumanEvalPlus.jsonl.gz"),
                           DataSource(kind="hub"), cache)
    assert not list(cache.iterdir())  # nothing half-written kept
    with pytest.raises(DataError, match="could not download") as info:
        humanevalplus.load(replace(RELEASE, url=f"{base}/missing.gz"), DataSource(kind="hub"),
                           cache)
    assert "--data-dir" in (info.value.hint or "")


def test_the_eval_loads_through_the_spec(data_dir: Path) -> None:
    ev = load_eval("humaneval-plus")
    try:
        assert len(ev.load(DataSource(kind="dir", path=str(data_dir))).items) == 164
        assert len(ev.load(DataSource(kind="bundled")).items) == 5
    finally:
        ev.close()
