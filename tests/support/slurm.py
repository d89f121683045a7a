"""A single-node Slurm cluster on this machine for tests, from Debian's slurm-wlm and munge
(scripts/system-packages.sh installs them).

Everything lives under one temporary folder: a fresh munge key and munged with its socket
there, a slurm.conf written here (this host as controller and only node, with this machine's
CPUs; proctrack/linuxproc, task/none, no cgroups, no accounting), spool, state, pid and log
files, and a port pair of its own, so it touches nothing of the system's and can run beside
another. slurmctld, slurmd and munged run in the foreground as child processes with their
output in log files; `logs()` gathers them (and the jobs' output) for a failure message.

Slurm runs its daemons as root here (SlurmUser=root), so the cluster needs root: without it, or
without the binaries, `require_slurm` skips the test with the reason, unless
RLA_REQUIRE_TEST_DATA=1 (as `.ci/run` sets), where the same absence fails it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.data import unavailable
from tests.support.servers import free_port

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scontrol",
            "scancel")


def require_slurm() -> None:
    """Skip (or, in mandatory mode, fail) unless this machine can start the cluster."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        unavailable(f"Slurm or munge is not installed ({', '.join(missing)} not on PATH):"
                    " run scripts/system-packages.sh as root")
    if os.geteuid() != 0:
        unavailable("the test Slurm cluster runs its daemons as root (SlurmUser=root)")


class SlurmError(RuntimeError):
    """The cluster did not start, or a job did not finish as asked; carries every log."""


@dataclass(frozen=True)
class Job:
    """An ended job: its id and each task's final (JobState, ExitCode), by array task id (None
    for a job that is not an array)."""

    id: str
    tasks: dict[int | None, tuple[str, str]]

    def succeeded(self, tasks: int | None = None) -> bool:
        """Every one of `tasks` array tasks (or the one plain job) completed with status 0."""
        expected: list[int | None] = [None] if tasks is None else list(range(tasks))
        return self.tasks == {task: ("COMPLETED", "0:0") for task in expected}


class SlurmCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.socket = root / "munge" / "munge.socket"
        self.logs_dir = root / "log"
        self.jobs_dir = root / "jobs"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def env(self) -> dict[str, str]:
        """What a Slurm client (sbatch, sinfo) needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> SlurmCluster:
        for folder in ("munge", "log", "jobs", "spool", "state"):
            (self.root / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._start_munge()
        self._write_conf()
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.host])
        try:
            self._wait_for_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self._spawn("munged", [
            "munged", "--foreground", "--force", f"--key-file={key}",
            f"--socket={self.socket}", f"--pid-file={self.root / 'munge' / 'munged.pid'}",
            f"--seed-file={self.root / 'munge' / 'munged.seed'}"])  # logs to munged.out
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise SlurmError(f"munged made no socket in 20 s\n{self.logs()}")
            time.sleep(0.05)

    def _write_conf(self) -> None:
        ctld_port, slurmd_port = free_port(), free_port()
        plugstack = self.root / "plugstack.conf"
        plugstack.write_text("")
        lines = {
            "ClusterName": "rlatest",
            "SlurmctldHost": f"{self.host}(127.0.0.1)",
            "SlurmctldPort": ctld_port, "SlurmdPort": slurmd_port,
            "SlurmUser": "root", "SlurmdUser": "root",
            "AuthType": "auth/munge", "CredType": "cred/munge",
            "AuthInfo": f"socket={self.socket}",
            "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/none", "MpiDefault": "none", "MailProg": "/bin/true",
            "SchedulerType": "sched/builtin", "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core", "ReturnToService": 2,
            "StateSaveLocation": self.root / "state", "SlurmdSpoolDir": self.root / "spool",
            "SlurmctldPidFile": self.root / "slurmctld.pid",
            "SlurmdPidFile": self.root / "slurmd.pid",
            "SlurmctldLogFile": self.logs_dir / "slurmctld.log",
            "SlurmdLogFile": self.logs_dir / "slurmd.log",
            "SlurmctldDebug": "info", "SlurmdDebug": "info",
            "PlugStackConfig": plugstack,
        }
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        cpus = len(os.sched_getaffinity(0))
        text += (f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n"
                 f"PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP\n")
        self.conf.write_text(text)

    def _spawn(self, name: str, command: Sequence[str]) -> None:
        with (self.logs_dir / f"{name}.out").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env={**os.environ, **self.env}, start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SlurmError(f"{name} exited with status {process.returncode}\n"
                                 f"{self.logs()}")

    def _wait_for_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while state != "idle":
            self._check_alive()
            if time.monotonic() > deadline:
                raise SlurmError(f"the node is not idle after {timeout:.0f} s (sinfo says"
                                 f" {state!r})\n{self.logs()}")
            time.sleep(0.2)
            state = self.client("sinfo", "--noheader", "--Node", "--format=%T",
                                check=False).stdout.strip()

    def client(self, *command: str, env: Mapping[str, str] | None = None,
               check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A Slurm client command against this cluster, with `env` laid over os.environ."""
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {}), **self.env})
        if check and proc.returncode != 0:
            raise SlurmError(f"{' '.join(command)} exited with status {proc.returncode}\n"
                             f"{proc.stdout}{proc.stderr}\n{self.logs()}")
        return proc

    def run_array(self, script: Path, *args: str, tasks: int, cwd: Path,
                  env: Mapping[str, str] | None = None, check: bool = True,
                  timeout: float = 600) -> Job:
        """`sbatch --array=0-(tasks-1) SCRIPT ARGS`, returned once every task has ended; with
        `check`, raises with the logs unless each one exited 0."""
        job = self.wait(self.submit(f"--array=0-{tasks - 1}", str(script), *args, cwd=cwd,
                                    env=env), timeout)
        if check and not job.succeeded(tasks):
            raise SlurmError(f"array job {job.id} did not succeed: {job.tasks}\n{self.logs()}")
        return job

    def submit(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
        """`sbatch ARGS` from `cwd`, each task's output in the jobs folder; the job's id. The
        tasks inherit os.environ with `env` laid over it (sbatch's default --export=ALL)."""
        return self.client("sbatch", "--parsable", "--chdir", str(cwd),
                           f"--output={self.jobs_dir}/%x-%A_%a.out", *args,
                           env=env).stdout.strip()

    def wait(self, job: str, timeout: float = 600) -> Job:
        """The job once it has ended: a quarter-second poll of squeue (`sbatch --wait` polls
        every few seconds, up to ten), then each task's state and exit code from scontrol."""
        deadline = time.monotonic() + timeout
        while self.client("squeue", "--noheader", f"--jobs={job}", check=False).stdout.strip():
            if time.monotonic() > deadline:
                raise SlurmError(f"job {job} still runs after {timeout:.0f} s\n{self.logs()}")
            time.sleep(0.25)
        shown = self.client("scontrol", "--oneliner", "show", "job", job).stdout
        found = re.findall(r"^JobId=\d+ (?:ArrayJobId=\d+ ArrayTaskId=(\d+) )?"
                           r".*?\bJobState=(\S+) .*?\bExitCode=(\S+)", shown, flags=re.M)
        tasks = {int(task) if task else None: (state, code) for task, state, code in found}
        return Job(job, dict(sorted(tasks.items(), key=lambda item: item[0] or 0)))

    def logs(self) -> str:
        """Every daemon's log and every job's output, each under its name."""
        parts = []
        for folder in (self.logs_dir, self.jobs_dir):
            for path in sorted(folder.glob("*")):
                text = path.read_text(errors="replace")
                parts.append(f"----- {path.name} -----\n{text[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel what still runs, then stop slurmd, slurmctld and munged, in that order."""
        controller = self.processes.get("slurmctld")
        if controller is not None and controller.poll() is None:
            self.client("scancel", "--full", f"--user={os.geteuid()}", check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.client(
                    "squeue", "--noheader", check=False).stdout.strip():
                time.sleep(0.2)
        for name in ("slurmd", "slurmctld", "munged"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
