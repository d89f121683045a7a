"""From a model's reply to the program that is run: pure functions of strings.

1. `clean`: drop ANSI escape codes and thinking (`<think>…</think>`, an unclosed `<think>` to
   the end, or everything before a lone `</think>`), normalise line ends.
2. Candidate code. Completion style: the task prompt + the reply cut at the first stop
   sequence (a backend that honoured the stops sent the same text). Chat style: the reply's
   fenced Python blocks in order (an unclosed last block counts), else the raw text.
3. The longest parseable piece: a candidate that does not parse loses trailing lines (a reply
   cut off by max_tokens) and, for raw text, leading prose, until it parses.
4. `sanitize`: keep the imports and the top-level definitions (functions, classes, assigned
   names) reachable from the entry point; drop the rest (examples, prints, asserts, a main
   block), as EvalPlus's sanitizer does. Later definitions of a name follow earlier ones, so
   Python's last-wins rule holds.
Nothing defines the entry point: no program (`Extraction.code is None`), status "unparsed".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.I)
_THINK_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.I)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.#-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)",
                    re.S | re.M)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython"}
_STARTS = re.compile(r"^(?:def |async def |class |import |from |@|[A-Za-z_][\w]*\s*[:=])")
_MAX_PARSES = 400


@dataclass(frozen=True)
class Extraction:
    code: str | None  # the program to run; None when nothing usable was found
    method: str  # completion | fenced | raw | none
    trimmed: bool = False  # lines were dropped to make it parse
    reason: str | None = None  # why there is no program


def clean(text: str) -> str:
    text = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _THINK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # the opening tag was in the prompt (some chat templates add it)
        text = text[closes[-1].end():]
    opened = _THINK_OPEN.search(text)
    if opened:  # never closed: all of it is thinking
        text = text[:opened.start()]
    return text


def truncate_at_stops(text: str, stops: Iterable[str]) -> str:
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def fenced_blocks(text: str) -> list[str]:
    """The code of each fenced block tagged as Python (or untagged), in order."""
    return [m.group(2) for m in _FENCE.finditer(text) if m.group(1).lower() in _PYTHON_TAGS]


def extract_program(response: str, *, prompt: str, entry_point: str, style: str,
                    stops: Sequence[str] = (), keep_prompt_imports: bool = True) -> Extraction:
    """The program to run for `response` to a task whose prompt is `prompt`."""
    text = clean(response)
    if style == "completion":
        completed = _completion(prompt, truncate_at_stops(text, stops), entry_point)
        if completed.code is not None:
            return completed
        # A base model that answered in markdown anyway: read it like a chat reply.
    blocks = fenced_blocks(text)
    if blocks:
        found = _from_blocks(blocks, entry_point)
        method = "fenced"
    else:
        found, method = _from_raw(text, entry_point), "raw"
    if found is None:
        return Extraction(None, "none", reason=f"no parseable definition of {entry_point}()")
    code, trimmed = found
    if keep_prompt_imports:
        code = _with_imports(prompt, code)
    return Extraction(code, method, trimmed)


def _completion(prompt: str, completion: str, entry_point: str) -> Extraction:
    lines = (prompt + completion).split("\n")
    # Keep at least the completion's first line of code: the prompt alone parses (a function
    # with only a docstring), but it is not an answer.
    first_code = next((i for i in range(prompt.count("\n"), len(lines))
                       if lines[i].strip() and not lines[i].strip().startswith("#")), None)
    if first_code is None:
        return Extraction(None, "none", reason="the completion holds no code")
    for cut in range(len(lines), first_code, -1):
        if len(lines) - cut > _MAX_PARSES:
            break
        code = "\n".join(lines[:cut])
        tree = _parse(code)
        if tree is not None and _defines(tree, entry_point):
            return Extraction(sanitize(code, entry_point, tree), "completion",
                              trimmed=cut < len(lines))
    return Extraction(None, "none", reason="prompt + completion does not parse")


def _from_blocks(blocks: Sequence[str], entry_point: str) -> tuple[str, bool] | None:
    usable: list[str] = []
    trimmed = False
    for block in blocks:
        piece = _longest_prefix(block)
        if piece is not None:
            usable.append(piece[0])
            trimmed |= piece[1]
    code = "\n".join(usable)
    tree = _parse(code)
    if tree is None or not _defines(tree, entry_point):
        return None
    return sanitize(code, entry_point, tree), trimmed


def _from_raw(text: str, entry_point: str) -> tuple[str, bool] | None:
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _STARTS.match(line)]
    budget = _MAX_PARSES
    for start in starts:
        for end in range(len(lines), start, -1):
            budget -= 1
            if budget < 0:
                return None
            code = "\n".join(lines[start:end])
            tree = _parse(code)
            if tree is not None and _defines(tree, entry_point):
                return sanitize(code, entry_point, tree), start > 0 or end < len(lines)
    return None


def _longest_prefix(code: str) -> tuple[str, bool] | None:
    lines = code.split("\n")
    for end in range(len(lines), 0, -1):
        if len(lines) - end > _MAX_PARSES:
            break
        piece = "\n".join(lines[:end])
        if _parse(piece) is not None:
            return piece, end < len(lines)
    return None


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _defines(tree: ast.Module, name: str) -> bool:
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
               for node in tree.body)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    names = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def _is_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, ast.Try | ast.If):  # `try: import numpy` ... guarded imports
        inner = [*node.body, *getattr(node, "orelse", []),
                 *(s for h in getattr(node, "handlers", []) for s in h.body)]
        return bool(inner) and all(
            _is_import(s) or isinstance(s, ast.Pass | ast.Assign) for s in inner)
    return False


def sanitize(code: str, entry_point: str, tree: ast.Module | None = None) -> str:
    """Imports, then everything the entry point reaches, in source order; nothing else."""
    tree = tree or ast.parse(code)
    binders: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        for name in _bound_names(node):
            binders.setdefault(name, []).append(node)
    wanted: set[int] = set()
    queue = [entry_point]
    seen = {entry_point}
    while queue:
        for node in binders.get(queue.pop(), []):
            if id(node) in wanted:
                continue
            wanted.add(id(node))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id not in seen and sub.id in binders:
                    seen.add(sub.id)
                    queue.append(sub.id)
    lines = code.split("\n")
    kept: list[str] = []
    for node in tree.body:
        if _is_import(node) or id(node) in wanted:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            kept.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n".join(kept) + "\n"


def _with_imports(prompt: str, code: str) -> str:
    """`code` preceded by the prompt's import statements it does not already contain."""
    tree = _parse(prompt)
    if tree is None:
        return code
    lines = prompt.split("\n")
    present = set(code.split("\n"))
    missing = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            statement = "\n".join(lines[node.lineno - 1:node.end_lineno])
            if statement not in present:
                missing.append(statement)
    return "\n".join([*missing, code]) if missing else code
