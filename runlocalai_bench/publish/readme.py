"""README.md of a run's Gist: the headline, the rig, the per-subtask table and how to rerun it.
A pure function of the record; it names every file the Gist holds and each one's sha256."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _pct(value: Any) -> str:
    return f"{value * 100:.2f}%" if isinstance(value, int | float) else "?"


def gist_description(record: Mapping[str, Any]) -> str:
    model = record["model"]
    name = model.get("slug") or model.get("id") or "model"
    quant = f" {model['quantization']}" if model.get("quantization") else ""
    partial = " (partial)" if record["results"].get("partial") else ""
    return (f"rla {record['benchmark']['slug']}: {name}{quant} on {record['rig']}"
            f" {_pct(record['results']['score'])}{partial}")


def render_readme(record: Mapping[str, Any], files: Mapping[str, str],
                  omitted: Sequence[str] = ()) -> str:
    """`files`: name → sha256 of each other file in the Gist; `omitted`: why a file is not."""
    bench, results, model = record["benchmark"], record["results"], record["model"]
    dataset, sampling = record["dataset"], record["sampling"]["settings"]
    lines = [
        f"# {bench['slug']}: {_pct(results['score'])}"
        f" ± {_pct(results['stderr'])}" + (" (partial run)" if results["partial"] else ""),
        "",
        f"- **rig** `{record['rig']}`",
        f"- **model** {model.get('slug') or model.get('id') or '?'}"
        + (f" ({model['quantization']})" if model.get("quantization") else "")
        + (f", {model['parameters']:,} parameters" if model.get("parameters") else "")
        + (f", file sha256 `{model['file_sha256']}`" if model.get("file_sha256") else ""),
        f"- **benchmark** {bench.get('title') or bench['slug']};"
        f" spec `{record['runner']['task_spec']}` sha256 `{bench['spec_sha256'][:16]}`;"
        f" prompt style {bench['prompt_style']}",
        f"- **data** {dataset['dataset']} @ {dataset.get('revision') or '?'}; content sha256"
        f" `{dataset['content_sha256'][:16]}`" + ("" if dataset.get("pinned") else " **unpinned**")
        + f"; {results['n']}/{results['expected_n']} samples",
        f"- **sampling** greedy: temperature {sampling['temperature']}, n {sampling['n']},"
        f" seed {sampling['seed']}, cache_prompt {str(sampling['cache_prompt']).lower()}",
        f"- **rla** {record['rla']['version']} ({record['rla'].get('git_commit') or 'no git'});"
        f" run `{record['run_id']}`, {record['timings']['started_at']} →"
        f" {record['timings']['finished_at']}",
        "",
        "## Reproduce",
        "",
        "```sh",
        record["command"]["reproduce"],
        "```",
        "",
        "## Scores",
        "",
        "| subtask | category | n | score |",
        "|---|---|---:|---:|",
    ]
    for name, row in results["subtasks"].items():
        category = row.get("category") or ""
        lines.append(f"| {name} | {category} | {row['n']} | {_pct(row['score'])} |")
    for name, row in results["categories"].items():
        lines.append(f"| **{name}** | | {row['n']} | {_pct(row['score'])} |")
    lines.append(f"| **all (micro)** | | {results['n']} | **{_pct(results['score'])}** |")
    lines.append(f"| **macro** | | | {_pct(results['macro'])} |")
    lines += ["", "## Files", "", "| file | sha256 |", "|---|---|"]
    for name, sha in files.items():
        lines.append(f"| {name} | `{sha}` |")
    for note in omitted:
        lines.append(f"| {note} | |")
    lines += ["", "run.log is the run's full stdout and stderr, verbatim (secrets and the home"
              " directory redacted). record.json here is the record as the run wrote it; the"
              " local copy gains this Gist's URL after upload.", ""]
    return "\n".join(lines)
