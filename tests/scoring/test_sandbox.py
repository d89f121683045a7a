"""The sandbox against hostile code: each case must be contained (the job fails or is killed,
the thing it tried did not happen) and leave the harness able to run the next job.

Every isolation level this machine can start is tested; a case that needs a guarantee a level
does not give (files, at the `rlimits` level) is skipped there with the reason. Outputs are
never judged here by the job's own say: the tests look at frames, files, sockets and processes.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import venv
from pathlib import Path

import psutil
import pytest

from runlocalai_bench.scoring import _sandbox_child as child
from runlocalai_bench.scoring._sandbox_child import encode, landlock_abi
from runlocalai_bench.scoring.sandbox import (
    LEVELS,
    Frame,
    Isolation,
    Job,
    JobEnd,
    Sandbox,
    SandboxError,
    SandboxLimits,
)
from tests.support.isolation import blocks_network, blocks_processes, confines_files

LIMITS = SandboxLimits(memory_mb=512, file_size_mb=4, tmpfs_mb=16, output_mb=8, frame_mb=2)
SECRET = "rla-test-secret-5f3a9c"


def run(sandbox: Sandbox, code: str, inputs: list[list[object]] | None = None, *,
        limit: float = 2.0, total: float = 5.0) -> tuple[list[Frame], JobEnd]:
    inputs = [[0]] if inputs is None else inputs
    frames: list[Frame] = []
    job = Job(code=code, entry_point="f", inputs_json=json.dumps(inputs), n_inputs=len(inputs),
              time_limits=(limit,) * len(inputs), total_timeout=total)
    end = sandbox.run(job, lambda frame: frames.append(frame) or True)
    return frames, end


def returned(frames: list[Frame]) -> list[bytes]:
    return [f.payload for f in frames if f.kind == "output"]


def completed_normally(frames: list[Frame]) -> bool:
    return any(f.kind == "done" for f in frames)


@pytest.fixture(scope="session")
def auto_level() -> str:
    with Sandbox(workers=1, limits=LIMITS) as box:
        return box.isolation().level


# The whole suite runs at the strongest level this machine allows ("auto"), and again (marked
# slow) at each weaker level it can start, so a CI machine without namespaces still checks them.
@pytest.fixture(scope="module", params=["auto", *(pytest.param(level, marks=pytest.mark.slow)
                                                  for level in LEVELS)])
def sandbox(request: pytest.FixtureRequest, auto_level: str) -> Sandbox:
    if request.param == auto_level:
        pytest.skip(f"level {auto_level} is what auto chose here")
    box = Sandbox(workers=1, level=request.param, limits=LIMITS)
    try:
        box.isolation()
    except SandboxError as exc:
        box.close()
        pytest.skip(f"level {request.param} cannot start here: {exc}")
    yield box
    assert_harness_unhurt(box)
    box.close()


def assert_harness_unhurt(box: Sandbox) -> None:
    frames, end = run(box, "def f(x):\n    return x + 1", [[41]])
    assert returned(frames) == [b"42"] and end.reason == "completed"


def needs(isolation: Isolation, what: str) -> None:
    if what == "files" and not confines_files(isolation):
        pytest.skip(f"level {isolation.level} does not confine files")


# -- the basics ---------------------------------------------------------------------------------


def test_a_plain_job_streams_its_return_values(sandbox: Sandbox) -> None:
    frames, end = run(sandbox, "def f(a, b):\n    return (a + b, [a] * 2, {a: 'x'})",
                      [[1, 2], [3, 4]])
    assert [f.kind for f in frames] == ["loaded", "output", "output", "done"]
    assert returned(frames) == [encode((3, [1, 1], {1: "x"})),
                                encode((7, [3, 3], {3: "x"}))]
    assert end.reason == "completed" and end.exit_code == 0


def test_isolation_is_reported(sandbox: Sandbox) -> None:
    isolation = sandbox.isolation()
    assert isolation.level in LEVELS
    assert {"rlimits", "empty-env", "fresh-workdir", "no-new-privs"} <= set(isolation.mechanisms)
    if isolation.level == "namespaces":
        assert {"network-namespace", "pid-namespace", "private-read-only-root"} <= set(
            isolation.mechanisms)
    assert isolation.level in isolation.summary()


def test_auto_takes_the_strongest_level_that_starts() -> None:
    with Sandbox(workers=1, limits=LIMITS) as box:
        isolation = box.isolation()
    assert isolation.level in LEVELS
    skipped = LEVELS[:LEVELS.index(isolation.level)]
    assert all(any(note.startswith(level) for note in isolation.notes) for level in skipped)


def test_each_job_starts_in_a_fresh_empty_directory(sandbox: Sandbox) -> None:
    code = ("import os\n"
            "def f(x):\n"
            "    before = sorted(os.listdir('.'))\n"
            "    open('left-behind', 'w').write('x')\n"
            "    os.makedirs('locked/inner')\n"
            "    os.chmod('locked/inner', 0)\n"
            "    os.chmod('locked', 0)\n"
            "    return before\n")
    first, _ = run(sandbox, code)
    second, _ = run(sandbox, code)
    assert returned(first) == returned(second) == [b"[]"]


def test_closing_removes_every_working_directory() -> None:
    box = Sandbox(workers=1, limits=LIMITS)
    run(box, "import os\ndef f(x):\n    os.makedirs('a/b')\n    os.chmod('a', 0)\n"
             "    return 1\n")
    base = box._base_dir
    box.close()
    assert not base.exists()


# -- processes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "import os\ndef f(x):\n    while True:\n        os.fork()\n",
    "import subprocess\ndef f(x):\n    return subprocess.run(['true']).returncode\n",
    "import multiprocessing\ndef f(x):\n    p = multiprocessing.Process(target=print)\n"
    "    p.start()\n    return 1\n",
    "import os\ndef f(x):\n    if os.fork() == 0:\n        os.setsid()\n        import time\n"
    "        time.sleep(60)\n    return 1\n",
])
def test_process_creation_is_contained(sandbox: Sandbox, code: str) -> None:
    host = psutil.Process(next(iter(sandbox._idle)).proc.pid) if sandbox._idle else None
    frames, _end = run(sandbox, code, limit=1.0, total=2.0)
    assert not completed_normally(frames)
    if host is not None:
        # Only the host (and, with a PID namespace, its init) remain.
        assert len(host.children(recursive=True)) <= 1


def test_fork_bomb_leaves_no_processes_behind(sandbox: Sandbox) -> None:
    run(sandbox, "def f(x):\n    return 0\n")  # make sure a host is up
    host = psutil.Process(sandbox._idle[0].proc.pid)
    frames, end = run(sandbox, "import os\ndef f(x):\n    while True:\n"
                               "        try:\n            os.fork()\n"
                               "        except OSError:\n            pass\n",
                      limit=0.5, total=1.0)
    assert end.reason == "timeout" and not returned(frames)
    isolation = sandbox.isolation()
    # Nothing can have escaped: no process was ever created, or all lived in the host's PID
    # namespace, which the host empties after every job.
    assert blocks_processes(isolation) or "pid-namespace" in isolation.mechanisms
    assert len(host.children(recursive=True)) <= 1  # the namespace's init, at most


def test_an_infinite_loop_is_killed_at_its_time_limit(sandbox: Sandbox) -> None:
    _, end = run(sandbox, "def f(x):\n    while True:\n        pass\n", [[0]],
                 limit=0.4, total=30.0)
    # the input's limit, not the 30 s total, ended it
    assert end.reason == "timeout" and end.timed_out_index == 0
    assert end.signal == 9 and end.elapsed < 30.0


def test_the_time_limit_is_per_input(sandbox: Sandbox) -> None:
    code = "import time\ndef f(x):\n    time.sleep(x)\n    return x\n"
    frames, end = run(sandbox, code, [[0.1], [0.1], [0.1], [5]], limit=0.5, total=4.0)
    assert returned(frames) == [b"0.1"] * 3
    assert end.reason == "timeout" and end.timed_out_index == 3


def test_a_job_that_ignores_signals_is_still_killed(sandbox: Sandbox) -> None:
    code = ("import signal\n"
            "def f(x):\n"
            "    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):\n"
            "        signal.signal(s, signal.SIG_IGN)\n"
            "    while True:\n        pass\n")
    _frames, end = run(sandbox, code, limit=0.3, total=1.0)
    assert end.reason == "timeout"


@pytest.mark.parametrize("target", ["os.getppid()", "-1", "HARNESS", "0 - os.getppid()"])
def test_killing_the_parent_or_everyone_fails(sandbox: Sandbox, target: str) -> None:
    target = target.replace("HARNESS", str(os.getpid()))
    code = f"import os, signal\ndef f(x):\n    os.kill({target}, signal.SIGKILL)\n    return 1\n"
    frames, _ = run(sandbox, code)
    assert not returned(frames)
    if blocks_processes(sandbox.isolation()):  # seccomp refused the signal outright
        assert [f.payload.split(b":")[0] for f in frames if f.kind == "raised"] == [
            b"PermissionError"]
    assert_harness_unhurt(sandbox)  # this process and the host both still answer


def test_ptrace_and_cross_process_memory_are_refused(sandbox: Sandbox) -> None:
    code = ("import ctypes, os\n"
            "def f(x):\n"
            "    libc = ctypes.CDLL(None, use_errno=True)\n"
            f"    attached = libc.ptrace(16, {os.getpid()}, 0, 0)\n"  # PTRACE_ATTACH
            "    return [attached, ctypes.get_errno() != 0]\n")
    frames, _ = run(sandbox, code)
    assert returned(frames) == [b"[-1,true]"]


# -- resources --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "def f(x):\n    return len(bytearray(10**10))\n",
    "def f(x):\n    keep = []\n    while True:\n        keep.append(bytearray(10**7))\n",
])
def test_memory_bombs_hit_the_address_space_limit(sandbox: Sandbox, code: str) -> None:
    frames, end = run(sandbox, code, limit=5.0, total=8.0)
    raised = [f.payload for f in frames if f.kind == "raised"]
    assert raised == [b"MemoryError"] or end.reason in ("exited", "timeout")


def test_deep_recursion_crashes_only_the_job(sandbox: Sandbox) -> None:
    code = ("import sys\nsys.setrecursionlimit(10**8)\n"
            "def f(x):\n    return f.__call__(x + 1)\n")  # through C: the C stack runs out
    frames, _end = run(sandbox, code, limit=0.6, total=1.0)
    assert not returned(frames) and not completed_normally(frames)


def test_printing_gigabytes_goes_nowhere(sandbox: Sandbox) -> None:
    rss = psutil.Process().memory_info().rss
    code = "import sys\ndef f(x):\n    while True:\n        print('x' * 10**6)\n" \
           "        sys.stderr.write('y' * 10**6)\n"
    _frames, end = run(sandbox, code, limit=0.5, total=1.0)
    assert end.reason == "timeout"
    assert psutil.Process().memory_info().rss < rss + 50 * 1024 * 1024


def test_writing_a_large_file_stops_at_the_file_size_limit(sandbox: Sandbox) -> None:
    code = "def f(x):\n    open('big', 'wb').write(b'0' * (64 * 1024 * 1024))\n    return 1\n"
    frames, _end = run(sandbox, code)
    assert not returned(frames)


def test_flooding_the_result_channel_hits_the_output_limit(sandbox: Sandbox) -> None:
    code = ("import os\n"
            "def f(x):\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            while True:\n"
            "                os.write(fd, b'O' + b'\\xff' * 10**6)\n"
            "        except OSError:\n"
            "            pass\n"
            "    return 1\n")
    frames, end = run(sandbox, code, limit=3.0, total=4.0)
    assert end.reason in ("protocol", "output-limit")
    assert not returned(frames)


def test_a_value_larger_than_a_frame_is_refused(sandbox: Sandbox) -> None:
    frames, end = run(sandbox, "def f(x):\n    return 'x' * (3 * 1024 * 1024)\n")
    assert end.reason == "output-limit" and not returned(frames)


# -- files, environment, network ----------------------------------------------------------------


def test_files_outside_the_working_directory_are_untouchable(sandbox: Sandbox,
                                                            tmp_path: Path) -> None:
    needs(sandbox.isolation(), "files")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inside.txt").write_text("also precious")
    code = ("import os, shutil\n"
            "def f(x):\n"
            "    done = []\n"
            f"    for attempt in (lambda: open({str(victim)!r}, 'w').write('gone'),\n"
            f"                    lambda: os.remove({str(victim)!r}),\n"
            f"                    lambda: shutil.rmtree({str(folder)!r}),\n"
            f"                    lambda: open({str(tmp_path / 'new.txt')!r}, 'w').write('x'),\n"
            f"                    lambda: open({str(victim)!r}).read()):\n"
            "        try:\n"
            "            attempt()\n"
            "            done.append(True)\n"
            "        except OSError:\n"
            "            done.append(False)\n"
            "    return done\n")
    frames, _ = run(sandbox, code)
    assert returned(frames) == [b"[false,false,false,false,false]"]
    assert victim.read_text() == "precious"
    assert (folder / "inside.txt").read_text() == "also precious"
    assert not (tmp_path / "new.txt").exists()


def test_home_and_the_harness_process_cannot_be_read(sandbox: Sandbox) -> None:
    needs(sandbox.isolation(), "files")
    code = ("import os\n"
            "def f(x):\n"
            "    out = []\n"
            f"    for path in ({str(Path.home())!r}, '/proc/{os.getpid()}/environ',\n"
            f"                 '/proc/self/environ', {sys.executable!r} + '/../../..'):\n"
            "        try:\n"
            "            out.append(len(os.listdir(path)) if os.path.isdir(path) else\n"
            "                       len(open(path, 'rb').read()))\n"
            "        except OSError:\n"
            "            out.append(None)\n"
            "    return out[:3]\n")
    frames, _ = run(sandbox, code)
    value = json.loads(returned(frames)[0])
    assert value[0] is None and value[1] is None
    assert value[2] is None or value[2] < 200  # no /proc, or only the job's own tiny environ


def test_the_environment_holds_nothing_of_the_users(sandbox: Sandbox,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLA_SUBMIT_TOKEN", SECRET)
    monkeypatch.setenv("GH_TOKEN", SECRET)
    with Sandbox(workers=1, level=sandbox.isolation().level, limits=LIMITS) as fresh:
        frames, _ = run(fresh, "import os\ndef f(x):\n    return dict(os.environ)\n")
    env = json.loads(returned(frames)[0])["v"]
    names = {k for k, _ in env}
    assert SECRET.encode() not in returned(frames)[0]
    assert names <= {"HOME", "TMPDIR", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "MKL_NUM_THREADS", "PYTHONHASHSEED", "LC_CTYPE"}


def test_stdin_is_closed(sandbox: Sandbox) -> None:
    code = ("import sys\n"
            "def f(x):\n"
            "    try:\n        return input()\n    except (EOFError, OSError) as exc:\n"
            "        return type(exc).__name__\n")
    frames, _ = run(sandbox, code)
    assert returned(frames) in ([b'"EOFError"'], [b'"OSError"'])


def test_no_network(sandbox: Sandbox) -> None:
    accepted: list[object] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    code = ("import socket\n"
            "def f(x):\n"
            f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    s.sendall(b'hello')\n"
            "    return 1\n")
    frames, _ = run(sandbox, code)
    stop.set()
    thread.join()
    server.close()
    assert not accepted and not returned(frames)
    if blocks_network(sandbox.isolation()):
        assert [f.kind for f in frames if f.kind == "raised"] == ["raised"]


# -- where Python lives ---------------------------------------------------------------------------

# Run by another interpreter: python DRIVER CODE ARGUMENT prints the isolation and the frames.
_DRIVER = (
    "import json, sys\n"
    "from runlocalai_bench.scoring.sandbox import Job, Sandbox, SandboxLimits\n"
    "frames = []\n"
    "with Sandbox(workers=1, limits=SandboxLimits(memory_mb=512, tmpfs_mb=16)) as box:\n"
    "    isolation = box.isolation()\n"
    "    box.run(Job(code=sys.argv[1], entry_point='f', inputs_json=json.dumps([sys.argv[2:]]),\n"
    "                n_inputs=1, time_limits=(5.0,), total_timeout=10.0),\n"
    "            lambda frame: frames.append(frame) or True)\n"
    "print(json.dumps({'level': isolation.level, 'notes': isolation.notes,\n"
    "                  'frames': [[f.kind, f.payload.decode()] for f in frames]}))\n"
)


@pytest.fixture
def venv_under_tmp() -> Path:
    """A fresh venv in /tmp itself (pytest's tmp_path may be elsewhere), with a module of its
    own, and a secret file beside it."""
    base = Path(tempfile.mkdtemp(prefix="rla-venv-", dir="/tmp"))
    venv.EnvBuilder(with_pip=False, symlinks=True).create(base / "venv")
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (base / "venv" / "lib" / version / "site-packages" / "rla_probe_module.py").write_text("")
    (base / "secret.txt").write_text(SECRET)
    yield base
    shutil.rmtree(base)


def skip_without_namespaces() -> None:
    probe = Sandbox(workers=1, level="namespaces", limits=LIMITS)
    try:
        probe.isolation()
    except SandboxError as exc:
        pytest.skip(f"level namespaces cannot start here: {exc}")
    finally:
        probe.close()


def test_namespaces_hold_when_python_lives_under_tmp(venv_under_tmp: Path) -> None:
    """The private root is built on a tmpfs mounted over /tmp: a venv under /tmp (a CI clone's)
    must still be bound into it, not make auto fall back to a weaker level."""
    skip_without_namespaces()
    prefix = venv_under_tmp / "venv"
    secret = venv_under_tmp / "secret.txt"
    code = ("import os, sys\n"
            "def f(secret):\n"
            "    import rla_probe_module\n"
            "    out = [sys.prefix, rla_probe_module.__file__]\n"
            "    for attempt in (lambda: open(secret).read(),\n"
            "                    lambda: open(sys.prefix + '/new.txt', 'w').write('x'),\n"
            "                    lambda: os.listdir(os.path.dirname(sys.prefix)),\n"
            "                    lambda: open('here.txt', 'w').write('ok')):\n"
            "        try:\n"
            "            out.append(attempt())\n"
            "        except OSError as exc:\n"
            "            out.append(type(exc).__name__)\n"
            "    return out\n")
    done = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", _DRIVER, code, str(secret)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["level"] == "namespaces", report["notes"]
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    module = prefix / "lib" / version / "site-packages" / "rla_probe_module.py"
    # The secret beside the venv is not in the job's view, the venv is read-only, the job
    # sees only the venv in its parent directory, and its working directory is writable.
    assert [kind for kind, _ in report["frames"]] == ["loaded", "output", "done"]
    assert json.loads(report["frames"][1][1]) == [
        str(prefix), str(module), "FileNotFoundError", "OSError", ["venv"], 2]
    assert secret.read_text() == SECRET
    assert not (prefix / "new.txt").exists()


# -- who a job is on the host --------------------------------------------------------------------

NOBODY = 65534

# Run by another interpreter: python DRIVER LEVEL CODE ARGUMENT... starts a sandbox at LEVEL and
# calls f([ARGUMENT...]), then f(None), which must block. While it blocks, the driver reads what
# the host (this machine) sees of every process under the sandbox's host process, the job's
# included, from /proc/PID/status, then stops the job. Prints the level, mechanisms, notes,
# frames and those processes, or what kept the level from starting.
_WATCH_DRIVER = (
    "import json, os, sys\n"
    "from runlocalai_bench.scoring.sandbox import Job, Sandbox, SandboxError, SandboxLimits\n"
    "def statuses():\n"
    "    found = {}\n"
    "    for name in filter(str.isdigit, os.listdir('/proc')):\n"
    "        try:\n"
    "            with open(f'/proc/{name}/status') as fh:\n"
    "                found[int(name)] = dict(line.rstrip('\\n').split(':\\t', 1)\n"
    "                                        for line in fh if ':\\t' in line)\n"
    "        except OSError:\n"
    "            pass\n"
    "    return found\n"
    "def under(top):\n"
    "    every, tree, todo = statuses(), {}, [top]\n"
    "    while todo:\n"
    "        pid = todo.pop()\n"
    "        tree[pid] = {key: every[pid].get(key) for key in\n"
    "                     ('PPid', 'NSpid', 'Uid', 'Gid', 'Groups', 'CapPrm', 'CapEff')}\n"
    "        todo += [child for child, status in every.items() if int(status['PPid']) == pid]\n"
    "    return tree\n"
    "frames, seen = [], {}\n"
    "def on_frame(frame):\n"
    "    frames.append([frame.kind, frame.payload.decode()])\n"
    "    if frame.kind != 'output':\n"
    "        return True\n"
    "    seen.update(under(host))\n"
    "    return False\n"
    "with Sandbox(workers=1, level=sys.argv[1],\n"
    "             limits=SandboxLimits(memory_mb=512, tmpfs_mb=16)) as box:\n"
    "    try:\n"
    "        isolation = box.isolation()\n"
    "    except SandboxError as exc:\n"
    "        print(json.dumps({'unavailable': str(exc)}))\n"
    "        sys.exit(0)\n"
    "    host = box._idle[0].proc.pid\n"
    "    box.run(Job(code=sys.argv[2], entry_point='f',\n"
    "                inputs_json=json.dumps([[sys.argv[3:]], [None]]), n_inputs=2,\n"
    "                time_limits=(5.0, 30.0), total_timeout=40.0), on_frame)\n"
    "print(json.dumps({'level': isolation.level, 'mechanisms': isolation.mechanisms,\n"
    "                  'notes': isolation.notes, 'frames': frames, 'processes': seen}))\n"
)

# f(paths): who the job is to itself, whether the first path is in its view at all, then what
# reading 4 bytes of each path, the standard library's os.py and the interpreter gives: how
# many bytes came, or the error.
_WHO_AM_I = (
    "import os, sys, time\n"
    "def f(paths):\n"
    "    if paths is None:\n"
    "        time.sleep(30)\n"
    "    out = [os.getuid(), os.getgid(), os.getgroups(), os.path.exists(paths[0])]\n"
    "    for path in [*paths, os.__file__, os.path.realpath(sys.executable)]:\n"
    "        try:\n"
    "            with open(path, 'rb') as fh:\n"
    "                out.append(len(fh.read(4)))\n"
    "        except OSError as exc:\n"
    "            out.append(type(exc).__name__)\n"
    "    return out\n"
)

# f([victim]): who the job is to itself, then what appending to, chmod-ing and touching the
# victim gave ("done" or the error), then whether it can write a file in its working directory.
_TOUCH_ROOTS_FILE = (
    "import os, time\n"
    "def f(paths):\n"
    "    if paths is None:\n"
    "        time.sleep(30)\n"
    "    victim = paths[0]\n"
    "    out = [os.getuid(), os.getgid(), os.getgroups()]\n"
    "    for attempt in (lambda: open(victim, 'a').write('changed'),\n"
    "                    lambda: os.chmod(victim, 0o666),\n"
    "                    lambda: os.utime(victim, (0, 0))):\n"
    "        try:\n"
    "            attempt()\n"
    "            out.append('done')\n"
    "        except OSError as exc:\n"
    "            out.append(type(exc).__name__)\n"
    "    with open('mine.txt', 'w') as fh:\n"
    "        out.append(fh.write('mine'))\n"
    "    return out\n"
)
REPO = Path(__file__).resolve().parents[2]


def drive(python: str, level: str, code: str, *arguments: str, tmpdir: str = "/tmp",
          **run: object) -> dict[str, object]:
    """What _WATCH_DRIVER prints, run by `python` from / with only PYTHONPATH and TMPDIR set."""
    done = subprocess.run([python, "-B", "-c", _WATCH_DRIVER, level, code, *arguments],
                          env={"PYTHONPATH": str(REPO), "TMPDIR": tmpdir}, cwd="/",
                          capture_output=True, text=True, timeout=120, check=False, **run)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def watch(python: str, level: str, code: str, *arguments: str,
          **run: object) -> dict[str, object]:
    report = drive(python, level, code, *arguments, **run)
    if "unavailable" in report:
        pytest.skip(f"level {level} cannot start here: {report['unavailable']}")
    return report


def host_view(report: dict[str, object]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The job's /proc status as the host sees it, and every process under the sandbox's host
    (the job's among them): the job is the one that has no child (the host, and a namespace's
    init, each have one)."""
    processes: dict[str, dict[str, str]] = report["processes"]  # type: ignore[assignment]
    parents = {status["PPid"] for status in processes.values()}
    jobs = [status for pid, status in processes.items() if pid not in parents]
    assert len(jobs) == 1, processes
    return jobs[0], list(processes.values())


def skip_without_level(level: str) -> None:
    """Skip when this kernel refuses `level` whatever the sandbox does (not for what a job
    cannot read: the tests below check that refusal)."""
    if level == "namespaces":
        skip_without_namespaces()
    elif level == "landlock" and not landlock_abi():
        pytest.skip("level landlock cannot start here: no Landlock in this kernel")


def imports_the_sandbox(python: str, **run: object) -> bool:
    try:
        return subprocess.run([python, "-B", "-c", "import runlocalai_bench.scoring.sandbox"],
                              env={"PYTHONPATH": str(REPO)}, cwd="/", capture_output=True,
                              timeout=60, check=False, **run).returncode == 0
    except OSError:  # not there, or not executable by that user
        return False


def python_for(user: int) -> str:
    """An interpreter that `user` (with that group and no others) can run this checkout with;
    this one when it can, else the system's."""
    as_user = {"user": user, "group": user, "extra_groups": []}
    for python in (os.path.realpath(sys.executable), "/usr/bin/python3"):
        if imports_the_sandbox(python, **as_user):
            return python
    pytest.skip(f"no Python here that uid {user} can run this checkout with")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: what a harness run as root does")
def test_a_job_under_a_root_harness_is_nobody_on_the_host(venv_under_tmp: Path) -> None:
    """Root's job must not be root on the host: it would own, and so read, every root-only
    file in its view. It is nobody/nogroup (65534) without supplementary groups, root only of
    its own namespace, and still reads the Python it runs on."""
    skip_without_namespaces()
    prefix = venv_under_tmp / "venv"
    owner_only = prefix / "root-only.txt"  # inside a directory the sandbox binds
    owner_only.write_text(SECRET)
    owner_only.chmod(0o600)
    group_only = prefix / "root-group-only.txt"
    group_only.write_text(SECRET)
    group_only.chmod(0o640)
    report = watch(str(prefix / "bin" / "python"), "namespaces", _WHO_AM_I, str(owner_only),
                   str(group_only))
    assert report["level"] == "namespaces"
    job, processes = host_view(report)
    for status in processes:  # the host, its PID-namespace init and the job
        assert status["Uid"].split() == [str(NOBODY)] * 4, status
        assert status["Gid"].split() == [str(NOBODY)] * 4, status
        assert status["Groups"].split() == [], status
    assert int(job["CapPrm"], 16) == int(job["CapEff"], 16) == 0
    # To itself the job is uid 0 of its namespace; both files are in its view and it can
    # read neither; it reads the standard library and the interpreter.
    frames = report["frames"]
    assert [kind for kind, _ in frames] == ["loaded", "output"]  # type: ignore[union-attr]
    assert json.loads(frames[1][1]) == [  # type: ignore[index]
        0, 0, [], True, "PermissionError", "PermissionError", 4, 4]
    assert "uid-nobody" in report["mechanisms"]  # type: ignore[operator]
    assert any(f"nobody and nogroup ({NOBODY}) on the host" in note
               for note in report["notes"])  # type: ignore[attr-defined]


@pytest.fixture
def roots_file() -> Path:
    """A root-owned 0644 file in a root-owned 0755 directory in /tmp: every user may reach and
    read it, only its owner may change it."""
    base = Path(tempfile.mkdtemp(prefix="rla-roots-", dir="/tmp"))
    base.chmod(0o755)
    victim = base / "roots.txt"
    victim.write_text(SECRET)
    victim.chmod(0o644)
    yield victim
    shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: what a harness run as root does")
@pytest.mark.parametrize("level", ["landlock", "rlimits"])
def test_a_job_under_a_root_harness_is_nobody_without_namespaces(level: str,
                                                                 roots_file: Path) -> None:
    """Without namespaces there is no uid map: a job that stayed uid 0 would own every root
    file, so it could write them at the rlimits level and chmod or touch them even under
    Landlock, which does not govern file attributes. It must be nobody/nogroup (65534) with no
    supplementary groups, so that plain permissions refuse all three."""
    skip_without_level(level)
    before = roots_file.stat()
    report = watch(python_for(NOBODY), level, _TOUCH_ROOTS_FILE, str(roots_file))
    assert report["level"] == level
    job, _ = host_view(report)
    assert job["Uid"].split() == [str(NOBODY)] * 4, job
    assert job["Gid"].split() == [str(NOBODY)] * 4, job
    assert job["Groups"].split() == [], job
    assert int(job["CapPrm"], 16) == int(job["CapEff"], 16) == 0
    frames = report["frames"]
    assert [kind for kind, _ in frames] == ["loaded", "output"]  # type: ignore[union-attr]
    assert json.loads(frames[1][1]) == [  # type: ignore[index]
        NOBODY, NOBODY, [], "PermissionError", "PermissionError", "PermissionError", 4]
    after = roots_file.stat()
    assert roots_file.read_text() == SECRET
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    assert "uid-nobody" in report["mechanisms"]  # type: ignore[operator]
    assert any(f"nobody and nogroup ({NOBODY}) on the host" in note
               for note in report["notes"])  # type: ignore[attr-defined]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: to run the harness as another user")
@pytest.mark.parametrize("level", LEVELS)
def test_a_job_under_a_user_harness_is_that_user_on_the_host(level: str) -> None:
    """A harness run by an ordinary user is unchanged: the job is that user on the host."""
    skip_without_level(level)
    user = 54321  # no one's
    as_user = {"user": user, "group": user, "extra_groups": []}
    report = watch(python_for(user), level, _WHO_AM_I, "/nonexistent", **as_user)
    assert report["level"] == level
    assert "uid-nobody" not in report["mechanisms"]  # type: ignore[operator]
    assert not any("nobody" in note or "root" in note
                   for note in report["notes"]), report["notes"]  # type: ignore[attr-defined]
    job, processes = host_view(report)
    for status in processes:
        assert status["Uid"].split() == [str(user)] * 4, status
        assert status["Gid"].split() == [str(user)] * 4, status
    assert int(job["CapEff"], 16) == 0
    inside = 0 if level == "namespaces" else user
    assert json.loads(report["frames"][1][1])[:4] == [  # type: ignore[index]
        inside, inside, [], False]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a root-only venv is readable by "
                                              "any other user who made it")
@pytest.mark.parametrize("level", LEVELS)
def test_a_python_nobody_can_read_refuses_the_level_with_the_reason(level: str) -> None:
    """A root-owned 0700 venv cannot serve a job that is nobody, at any level: the level must
    not start, and the reason must say which path nobody could not read (not jobs failing at
    import)."""
    skip_without_level(level)
    base = Path(tempfile.mkdtemp(prefix="rla-venv-", dir="/tmp"))
    try:
        prefix = base / "venv"
        subprocess.run([python_for(NOBODY), "-m", "venv", "--without-pip", "--symlinks",
                        str(prefix)], check=True, capture_output=True, timeout=120)
        prefix.chmod(0o700)
        report = drive(str(prefix / "bin" / "python"), level, _WHO_AM_I, "/nonexistent")
    finally:
        shutil.rmtree(base)
    assert "level" not in report, report
    assert str(report["unavailable"]).startswith(
        f"no sandbox could be started ({level} unavailable: PermissionError: [Errno 13] a job, "
        f"nobody ({NOBODY} on the host), cannot read {prefix}/"), report


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: what a harness run as root does")
@pytest.mark.parametrize("level", ["landlock", "rlimits"])
def test_a_sandbox_directory_nobody_cannot_reach_refuses_the_level(level: str) -> None:
    """Without namespaces a job's working directory lies in the sandbox's temporary directory;
    under root's 0700 TMPDIR a job that is nobody could not reach it by its path (HOME, TMPDIR),
    so the level must not start, and the reason must say where."""
    skip_without_level(level)
    private = Path(tempfile.mkdtemp(prefix="rla-private-", dir="/tmp"))
    try:
        report = drive(python_for(NOBODY), level, _WHO_AM_I, "/nonexistent",
                       tmpdir=str(private))
    finally:
        shutil.rmtree(private)
    assert "level" not in report, report
    assert str(report["unavailable"]).startswith(
        f"no sandbox could be started ({level} unavailable: PermissionError: [Errno 13] a job, "
        f"nobody ({NOBODY} on the host), cannot reach {private}/rla-sandbox-"), report


# -- exits and lies -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "kinds"), [
    ("import sys\ndef f(x):\n    sys.exit(0)\n", ["loaded", "raised"]),
    ("import os\ndef f(x):\n    os._exit(0)\n", ["loaded"]),
    ("import os\nos._exit(0)\ndef f(x):\n    return 1\n", []),
    ("import sys\nsys.exit(0)\ndef f(x):\n    return 1\n", ["load_error"]),
    ("import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSEGV)\n    return 1\n",
     ["loaded"]),
    ("def f(x):\n    raise KeyboardInterrupt\n", ["loaded", "raised"]),
    ("import os\ndef f(x):\n    os.abort()\n", ["loaded"]),
])
def test_exiting_early_never_completes(sandbox: Sandbox, code: str, kinds: list[str]) -> None:
    frames, _end = run(sandbox, code, [[0], [1]])
    assert [f.kind for f in frames] == kinds
    assert not completed_normally(frames)


def test_a_job_that_lingers_after_its_output_is_killed(sandbox: Sandbox) -> None:
    code = ("import os, struct\n"
            "def f(x):\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            os.close(fd)\n"
            "        except OSError:\n"
            "            pass\n"
            "    while True:\n"
            "        pass\n")
    _, end = run(sandbox, code, limit=30.0, total=30.0)
    # killed by the short grace after its output closed, not by the 30 s total
    assert end.reason == "exited" and end.signal == 9 and end.elapsed < 30.0


def test_forged_frames_are_a_protocol_error(sandbox: Sandbox) -> None:
    code = ("import os, struct\n"
            "def f(x):\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            os.write(fd, struct.pack('<cIdI', b'O', 7, 0.0, 1) + b'1')\n"
            "        except OSError:\n"
            "            pass\n"
            "    return 1\n")
    frames, end = run(sandbox, code)
    assert end.reason == "protocol" and not completed_normally(frames)


def test_objects_that_claim_equality_travel_as_what_they_are(sandbox: Sandbox) -> None:
    code = ("class Liar:\n"
            "    def __eq__(self, other):\n        return True\n"
            "class LyingInt(int):\n"
            "    def __eq__(self, other):\n        return True\n"
            "def f(x):\n    return [Liar(), LyingInt(3), float('nan')]\n")
    frames, _ = run(sandbox, code)
    assert returned(frames) == [b'[{"~":"o","v":"Liar"},3,NaN]']


def test_patched_builtins_and_modules_do_not_reach_the_runner(sandbox: Sandbox) -> None:
    code = ("import builtins, json, os, struct\n"
            "builtins.len = lambda *a: 0\n"
            "json.dumps = lambda *a, **k: '\"forged\"'\n"
            "struct.pack = lambda *a: b''\n"
            "def f(x):\n    return [x, x]\n")
    frames, end = run(sandbox, code, [[1], [2]])
    assert end.reason == "completed" and completed_normally(frames)
    assert returned(frames) == [b"[1,1]", b"[2,2]"]


def test_stopping_early_kills_the_job(sandbox: Sandbox) -> None:
    frames: list[Frame] = []
    job = Job(code="def f(x):\n    return x\n", entry_point="f",
              inputs_json=json.dumps([[i] for i in range(1000)]), n_inputs=1000,
              time_limits=(2.0,) * 1000, total_timeout=10.0)

    def on_frame(frame: Frame) -> bool:
        frames.append(frame)
        return frame.kind != "output" or frame.index < 2

    end = sandbox.run(job, on_frame)
    assert end.reason == "stopped"
    assert [f.index for f in frames if f.kind == "output"] == [0, 1, 2]


def test_many_threads_share_the_pool() -> None:
    with Sandbox(workers=2, limits=LIMITS) as box:
        results: list[list[bytes]] = []

        def work(i: int) -> None:
            frames, _ = run(box, f"def f(x):\n    return x * {i}\n", [[2]])
            results.append(returned(frames))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == sorted([[str(2 * i).encode()] for i in range(8)])


def test_a_closed_sandbox_refuses_work() -> None:
    box = Sandbox(workers=1, limits=LIMITS)
    box.close()
    with pytest.raises(SandboxError):
        run(box, "def f(x):\n    return 1\n")


def test_the_child_is_one_stdlib_only_file_with_a_true_section_map() -> None:
    """The host starts from `_sandbox_child.py` alone: it imports nothing but the standard
    library, and the section map at its top names its sections in the order they come."""
    source = Path(child.__file__).read_text()
    imported = {alias.name.partition(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.partition(".")[0] for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__"} <= sys.stdlib_module_names
    docstring = ast.get_docstring(ast.parse(source)) or ""
    section_map = docstring.split("Sections, in file order", 1)[1].split("\n\n", 2)[1]
    listed = [line for line in section_map.splitlines() if line and not line.startswith(" ")]
    banners = re.findall(r"^# -{20,}\n# (.+)$", source, flags=re.MULTILINE)
    assert len(listed) == len(banners) >= 9
    for name, banner in zip(listed, banners, strict=True):
        assert banner.startswith(name), (name, banner)
