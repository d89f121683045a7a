"""The sandbox's far side: a *host* process that runs untrusted code in fresh child processes.

Started by runlocalai_bench.scoring.sandbox as `python -s -B -P _sandbox_child.py <fd>` with an
empty environment (PYTHONHASHSEED=0 only) in its own session. It imports the standard library
only and never imports rla. Over the control socket `<fd>` it receives one setup message, then
one message per job. The host itself never runs untrusted code: each job is a fresh fork that
runs the solution, writes length-prefixed frames to a pipe the harness handed over, and dies.

Sections, in file order (each opens with a `# ---` rule and a comment beginning with its name).
The file stays one module on purpose: the host starts from a single stdlib-only file.

Wire formats
    The control message header and the job frame layout (kind, input index, seconds, payload
    length) with its frame kinds; sandbox.py reads both.
Linux primitives through ctypes
    unshare, mount, umount and prctl over libc, and the per-architecture syscall numbers that
    the seccomp filter and the namespace set-up need.
seccomp
    `seccomp_program` builds the deny-list filter as classic BPF; `install_seccomp` loads it.
Landlock
    `landlock_abi` probes the kernel's ABI; `install_landlock` confines a job's file access,
    TCP and (ABI >= 6) signals and abstract sockets.
Capabilities
    `drop_capabilities`: locks root's special treatment off, empties the bounding, ambient,
    effective, permitted and inheritable sets and, for a root harness, becomes nobody on the way.
Value encoding
    `encode`: a job's return values in a JSON form that keeps what `==` distinguishes
    (decoded by scoring/outputs.py in the harness).
The job
    What runs in the fresh fork: `job_main` closes what the job must not have, applies the
    rlimits, Landlock, the capability drop and user switch, no_new_privs and seccomp, then
    `run_solution` executes the code, calls the entry point on each input and writes a frame
    per result. Also `remove_tree`, which removes what a job left, unreadable or not.
The host
    `Host`: sets up one isolation level (`setup`, namespaces in `_setup_namespaces`), checks
    that a job's uid can read what it needs (`_probe_reads`), reports what is in force, then
    forks, watches and cleans up after each job (`run`, `_wait`, `_cleanup`); `_IdMapper`
    writes a root harness's user-namespace maps from outside.
Control messages
    `recv` / `send` over the control socket (length-prefixed JSON, with file descriptors),
    and `main`: the setup message, then one message per job until the harness hangs up; a
    job's message is followed by its inputs, `inputs_size` bytes of JSON, as they are.

Isolation levels, strongest first (the harness asks for one or for "auto"):

namespaces
    The host enters new user, mount, network, IPC and PID namespaces, pivots into a private
    read-only root that holds only binds of the system and Python directories, each at its
    own path (under /tmp too), plus /dev/null and friends (no /proc, no home, no /etc,
    nothing else of the host's /tmp), and becomes PID 1 of its namespace. Each job gets a fresh
    size-limited tmpfs on /.rla-work, its working directory, HOME and TMPDIR, and after each
    job every other process in the namespace is killed and that mount is dropped.
    A job is uid and gid 0 of the user namespace, without capabilities, and on the host it is
    the one uid and gid that namespace maps: the harness's user, with that user's supplementary
    groups, or, when the harness runs as root, nobody and nogroup (65534) with no
    supplementary groups. For root, a helper left outside the namespace writes that map; the
    host opens the bind sources while still root on the host (so Python under /root works) and
    then becomes 65534 itself, keeping capabilities in its own namespaces only. Such a job is
    the uid meant to own no file, and reads in its view only what every user may. Before reporting
    the level ready, the host checks, with a job's uid and no capabilities, that what is on
    sys.path (standard library, lib-dynload, site-packages, and what each holds at its top
    level) is readable; if not, the level fails and the reason names the path.
landlock
    No namespaces: Landlock confines each job to reading the system and Python directories and
    writing its own fresh working directory; TCP bind/connect is denied (Landlock ABI >= 4) and
    signals and abstract sockets are scoped to the job (ABI >= 6). Landlock does not govern
    file attributes (chmod, chown, utime), so who owns a file still matters here.
rlimits
    Neither is available: resource limits, a fresh working directory and the seccomp filter;
    files are guarded by their permissions alone.

Who a job is at the landlock and rlimits levels: the harness's user, with that user's
supplementary groups, or, when the harness runs as root, nobody and nogroup (65534) with no
supplementary groups. There the host stays root; each job, after opening as root what it must
(/dev/null, its working directory, the Landlock rules' paths), drops its supplementary groups,
then sets its gid, then its uid (setgroups, setresgid, setresuid) before any of the solution
runs. Its working directory is made for it, owned by 65534 and mode 0700. Such a job owns no
file of root's, so outside what nobody owns it may change and read only what every user may
(at the rlimits level nobody also owns the other jobs' working directories, as root did before:
their names are not listed to it, but they are not hidden either). The same check as at the
namespaces level (sys.path readable, and here the directory that holds the working directories
reachable, by a job's uid without capabilities) runs before the level is reported ready, and a
failure names the path.

At every level each job also gets: its own session and process group, rlimits (address space,
CPU, file size, open files, core, and processes where they count), an environment with nothing
of the user's, stdin and stdout/stderr on /dev/null, no capabilities, no_new_privs, and (on x86-64
and aarch64) a seccomp filter that refuses new processes (threads are allowed), signals to other
processes, sockets, ptrace and cross-process memory access, keyrings, namespaces and mounts,
SysV/POSIX IPC, io_uring, bpf and perf. What was actually in force is reported back at setup;
under a harness running as root the mechanisms include "uid-nobody" and the notes say who a job
is on the host, at every level.
"""

from __future__ import annotations

import array
import base64
import contextlib
import ctypes
import errno
import gc
import itertools
import json
import math
import operator
import os
import platform
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import sys
import time
from typing import Any

# ---------------------------------------------------------------------------------------------
# Wire formats (mirrored in sandbox.py)

MSG_HEADER = struct.Struct("<I")  # control messages: length, then UTF-8 JSON
FRAME = struct.Struct("<cIdI")  # job frames: kind, input index, seconds, payload length
FRAME_LOADED = b"L"  # the solution executed and the entry point exists
FRAME_LOAD_ERROR = b"E"  # payload: the exception, as text
FRAME_OUTPUT = b"O"  # payload: the encoded return value of input `index`
FRAME_ARGS = b"A"  # payload: the encoded arguments after the call (special oracles)
FRAME_RAISED = b"X"  # payload: the exception input `index` raised, as text
FRAME_DONE = b"D"

MAX_MESSAGE = 256 * 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Linux primitives through ctypes (Python 3.11 has no os.unshare)

LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    _libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def _call(ret: int, what: str) -> int:
    if ret < 0:
        raise _fail(what)
    return ret


def _unshare(flags: int) -> None:
    _call(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    ret = _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    _call(ret, f"mount {target}")


def _umount(target: str) -> None:
    _call(_libc.umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH)), f"umount {target}")


def _prctl(option: int, arg2: int = 0, arg3: object = 0) -> int:
    if not LINUX:
        return -1
    third = arg3 if not isinstance(arg3, int) else ctypes.c_ulong(arg3)
    return int(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), third,
                           ctypes.c_ulong(0), ctypes.c_ulong(0)))


# Per-architecture syscall numbers: x86-64 (asm/unistd_64.h) and the generic table (aarch64).
_ARCH: dict[str, dict[str, Any]] = {
    "x86_64": {
        "audit": 0xC000003E, "pivot_root": 155,
        "clone": 56, "clone3": 435, "fork": 57, "vfork": 58,
        "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
        "rt_tgsigqueueinfo": 297,
        "deny": {
            "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "socket": 41,
            "socketpair": 53, "keyctl": 250, "add_key": 248, "request_key": 249,
            "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
            "chroot": 161, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "open_by_handle_at": 304, "name_to_handle_at": 303, "open_tree": 428,
            "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
            "mount_setattr": 442, "pidfd_open": 434, "pidfd_getfd": 438,
            "pidfd_send_signal": 424, "shmget": 29, "semget": 64, "msgget": 68,
            "mq_open": 240, "kexec_load": 246, "init_module": 175, "finit_module": 313,
            "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
            "quotactl": 179,
        },
    },
    "aarch64": {
        "audit": 0xC00000B7, "pivot_root": 41,
        "clone": 220, "clone3": 435, "fork": None, "vfork": None,
        "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
        "rt_tgsigqueueinfo": 240,
        "deny": {
            "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "socket": 198,
            "socketpair": 199, "keyctl": 219, "add_key": 217, "request_key": 218,
            "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
            "chroot": 51, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
            "open_by_handle_at": 265, "name_to_handle_at": 264, "open_tree": 428,
            "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
            "mount_setattr": 442, "pidfd_open": 434, "pidfd_getfd": 438,
            "pidfd_send_signal": 424, "shmget": 194, "semget": 190, "msgget": 186,
            "mq_open": 180, "kexec_load": 104, "init_module": 105, "finit_module": 273,
            "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89,
            "quotactl": 60,
        },
    },
}


def _arch() -> dict[str, Any] | None:
    return _ARCH.get(platform.machine()) if LINUX else None


# ---------------------------------------------------------------------------------------------
# seccomp: a deny-list filter built as classic BPF

_BPF_LD_ABS = 0x20
_BPF_JEQ = 0x15
_BPF_JSET = 0x45
_BPF_JGE = 0x35
_BPF_RET = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_X32_BIT = 0x40000000


def _ret_errno(code: int) -> int:
    return 0x00050000 | code


def seccomp_program(arch: dict[str, Any], pid: int) -> bytes:
    """The filter for a job whose pid is `pid`: see the module docstring for what it refuses."""
    insns: list[tuple[int, int, int, int]] = []

    def ins(code: int, jt: int, jf: int, k: int) -> None:
        insns.append((code, jt, jf, k & 0xFFFFFFFF))

    def block(nr: int, body: list[tuple[int, int, int, int]]) -> None:
        ins(_BPF_JEQ, 0, len(body), nr)
        insns.extend(body)

    arg0 = (_BPF_LD_ABS, 0, 0, 16)  # low 32 bits of args[0] (little-endian)
    eperm = (_BPF_RET, 0, 0, _ret_errno(errno.EPERM))
    allow = (_BPF_RET, 0, 0, _RET_ALLOW)

    ins(_BPF_LD_ABS, 0, 0, 4)  # seccomp_data.arch
    ins(_BPF_JEQ, 1, 0, arch["audit"])
    ins(_BPF_RET, 0, 0, _RET_KILL_PROCESS)
    ins(_BPF_LD_ABS, 0, 0, 0)  # seccomp_data.nr
    if arch["fork"] is not None:  # x86-64: refuse the x32 ABI outright
        ins(_BPF_JGE, 0, 1, _X32_BIT)
        ins(*eperm)
    for nr in arch["deny"].values():
        block(nr, [eperm])
    block(arch["clone3"], [(_BPF_RET, 0, 0, _ret_errno(errno.ENOSYS))])  # libc falls back
    for name in ("fork", "vfork"):
        if arch[name] is not None:
            block(arch[name], [eperm])
    # clone: threads only.
    block(arch["clone"], [arg0, (_BPF_JSET, 0, 1, CLONE_THREAD), allow, eperm])
    # kill/tkill: this process or its own group only.
    own = [arg0, (_BPF_JEQ, 3, 0, pid), (_BPF_JEQ, 2, 0, 0), (_BPF_JEQ, 1, 0, -pid & 0xFFFFFFFF),
           eperm, allow]
    for name in ("kill", "tkill"):
        block(arch[name], list(own))
    # tgkill and the sigqueue calls name the thread group first.
    for name in ("tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        block(arch[name], [arg0, (_BPF_JEQ, 1, 0, pid), eperm, allow])
    ins(*allow)
    return b"".join(struct.pack("<HBBI", *insn) for insn in insns)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_seccomp(arch: dict[str, Any]) -> None:
    program = seccomp_program(arch, os.getpid())
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _call(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    _call(_prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog)), "seccomp")


# ---------------------------------------------------------------------------------------------
# Landlock

_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_VERSION = 1
_LL_FS_EXECUTE, _LL_FS_WRITE_FILE, _LL_FS_READ_FILE, _LL_FS_READ_DIR = 1, 2, 4, 8
_LL_FS_TRUNCATE, _LL_FS_IOCTL_DEV = 1 << 14, 1 << 15
_LL_NET_ALL = 0b11  # BIND_TCP | CONNECT_TCP
_LL_SCOPE_ALL = 0b11  # ABSTRACT_UNIX_SOCKET | SIGNAL


def landlock_abi() -> int:
    if not LINUX:
        return 0
    ret = int(_libc.syscall(ctypes.c_long(_LL_CREATE), None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_LL_VERSION)))
    return ret if ret > 0 else 0


def _ll_fs_all(abi: int) -> int:
    bits = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        bits |= 1 << 13  # REFER
    if abi >= 3:
        bits |= _LL_FS_TRUNCATE
    if abi >= 5:
        bits |= _LL_FS_IOCTL_DEV
    return bits


def install_landlock(abi: int, read_only: list[str], writable: list[str],
                     devices: list[str]) -> None:
    fs_all = _ll_fs_all(abi)
    fields = [fs_all]
    if abi >= 4:
        fields.append(_LL_NET_ALL)
    if abi >= 6:
        fields.append(_LL_SCOPE_ALL)
    attr = ctypes.create_string_buffer(struct.pack(f"<{len(fields)}Q", *fields))
    ruleset = int(_libc.syscall(ctypes.c_long(_LL_CREATE), attr, ctypes.c_size_t(len(attr.raw)),
                                ctypes.c_uint32(0)))
    _call(ruleset, "landlock_create_ruleset")
    file_rights = _LL_FS_EXECUTE | _LL_FS_WRITE_FILE | _LL_FS_READ_FILE
    if abi >= 3:
        file_rights |= _LL_FS_TRUNCATE
    try:
        rules = [(p, _LL_FS_EXECUTE | _LL_FS_READ_FILE | _LL_FS_READ_DIR) for p in read_only]
        rules += [(p, fs_all) for p in writable]
        rules += [(p, _LL_FS_READ_FILE | _LL_FS_WRITE_FILE) for p in devices]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    access &= file_rights
                rule = ctypes.create_string_buffer(struct.pack("<Qi", access, fd), 12)
                _call(int(_libc.syscall(ctypes.c_long(_LL_ADD_RULE), ctypes.c_int(ruleset),
                                        ctypes.c_int(1), rule, ctypes.c_uint32(0))),
                      f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        _call(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
        _call(int(_libc.syscall(ctypes.c_long(_LL_RESTRICT), ctypes.c_int(ruleset),
                                ctypes.c_uint32(0))), "landlock_restrict_self")
    finally:
        os.close(ruleset)


# ---------------------------------------------------------------------------------------------
# Capabilities


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32))


def drop_capabilities(become: int | None = None) -> None:
    """Lock root's special treatment off (SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and
    NO_CAP_AMBIENT_RAISE, each locked), empty the bounding and ambient sets where permitted;
    with `become`, take that uid and gid with no supplementary groups (setgroups, setresgid,
    setresuid, in that order, while the capabilities they need are still held); then empty the
    effective, permitted and inheritable sets (always permitted)."""
    _prctl(PR_SET_SECUREBITS, 0xEF)
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) < 0 and ctypes.get_errno() == errno.EINVAL:
            break
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if become is not None:
        os.setgroups([])
        if hasattr(os, "setresuid"):
            os.setresgid(become, become, become)
            os.setresuid(become, become, become)
        else:  # macOS: for root these set the real, effective and saved ids alike
            os.setgid(become)
            os.setuid(become)
    if not LINUX:
        return
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _call(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


# ---------------------------------------------------------------------------------------------
# Value encoding: a JSON form that keeps what `==` distinguishes (tuple vs list, set, dict keys
# of any hashable type, big ints, complex, bytes). Subclasses count as their builtin base;
# anything else becomes an opaque marker that equals nothing.

_BIG = 10**4000
_EXACT = 2**53  # ints a double holds exactly
_PLAIN = frozenset((float, str, bool, type(None)))
_PLAIN_INT = _PLAIN | {int}
_NUMBERS = frozenset((float, int))
_PACK_MIN = 64  # lists of at least this many numbers travel as packed doubles


def _enc(x: Any) -> Any:
    t = type(x)
    if t in _PLAIN:
        return x
    if t is int:
        return x if -_BIG < x < _BIG else {"~": "i", "v": hex(x)}
    if t is list or t is tuple:
        kinds = set(map(type, x))
        if t is list and kinds <= _NUMBERS and len(x) >= _PACK_MIN:
            packed = _pack_numbers(x, int in kinds)
            if packed is not None:
                return packed
        if kinds <= _PLAIN or (kinds <= _PLAIN_INT and _ints_small(x)):
            items = x if t is list else list(x)
        else:
            items = [_enc(v) for v in x]
        return items if t is list else {"~": "t", "v": items}
    if t is dict:
        return {"~": "d", "v": [[_enc(k), _enc(v)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"~": "s" if t is set else "f", "v": [_enc(v) for v in x]}
    if t is complex:
        return {"~": "c", "v": [x.real, x.imag]}
    if t is bytes or t is bytearray:
        return {"~": "b", "v": bytes(x).decode("latin-1")}
    return _enc_foreign(x)


def _pack_numbers(values: list[Any], has_ints: bool) -> dict[str, Any] | None:
    """A long list of floats and ints as native doubles, plus which positions are ints: about
    four times faster to produce than decimal text."""
    flags = ""
    if has_ints:
        # min/max run in C; a NaN among them fails the range test and takes the exact path.
        try:
            small = min(values) >= -_EXACT and max(values) <= _EXACT
        except TypeError:
            small = False
        if not small:
            ints = [v for v in values if type(v) is int]
            if min(ints) < -_EXACT or max(ints) > _EXACT:
                return None
        is_int = map(operator.is_, map(type, values), itertools.repeat(int))
        flags = base64.b64encode(bytes(is_int)).decode()
    data = base64.b64encode(array.array("d", values).tobytes()).decode()
    return {"~": "n", "v": [flags, data]}


def _ints_small(values: list[Any]) -> bool:
    try:
        ints = [v for v in values if type(v) is int]
        return not ints or (min(ints) > -_BIG and max(ints) < _BIG)
    except TypeError:
        return False


# Subclasses of builtins (bool first: it is an int) are taken at their builtin value.
_BASES: tuple[tuple[type, Any], ...] = (
    (bool, bool), (int, int.__index__), (float, float.__float__), (str, str.__str__),
    (complex, complex), (bytes, bytes), (tuple, tuple), (list, list), (dict, dict),
    (frozenset, frozenset), (set, set))


def _enc_foreign(x: Any) -> Any:
    if getattr(type(x), "__module__", "") == "numpy" and getattr(x, "shape", ()) == ():
        return _enc(x.item())  # numpy scalars
    for base, convert in _BASES:
        if isinstance(x, base):
            value = convert(x)
            if type(value) is base:
                return _enc(value)
    return {"~": "o", "v": type(x).__qualname__[:80]}


# Built once (json.dumps with separators builds an encoder per call) and bound now: solutions
# may patch the json module.
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def encode(value: object) -> bytes:
    """The bytes a job sends for one value; also what the expected-output cache stores."""
    try:
        text = _dumps(_enc(value))
    except (ValueError, TypeError, RecursionError, OverflowError, MemoryError):
        try:
            text = json.dumps({"~": "o", "v": type(value).__qualname__[:80]})
        except BaseException:
            text = '{"~":"o","v":"?"}'
    return text.encode("ascii")


# ---------------------------------------------------------------------------------------------
# The job: runs in a fresh fork, never returns


class _NoInput:
    """sys.stdin for solutions: reading fails, as it does under EvalPlus."""

    def _refuse(self, *args: object) -> str:
        raise OSError("stdin is closed in the sandbox")

    read = readline = readlines = _refuse

    def readable(self) -> bool:
        return False

    def __iter__(self) -> _NoInput:
        return self

    def __next__(self) -> str:
        raise OSError("stdin is closed in the sandbox")


def _describe(exc: BaseException) -> str:
    text = type(exc).__name__
    try:
        detail = str(exc)
    except BaseException:
        detail = ""
    if detail:
        text = f"{text}: {detail[:300]}"
    return text


def _write_all(fd: int, data: bytes, write: Any = os.write) -> None:
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def run_solution(job: dict[str, Any], out_fd: int) -> None:
    """Execute the solution and stream frames. References to everything used after the
    untrusted code starts are bound here, so patched modules cannot redirect them."""
    pack, write, clock, enc, size = FRAME.pack, _write_all, time.perf_counter, encode, len
    numbered = enumerate
    inputs = json.loads(job["inputs"])
    send_args = bool(job.get("send_args"))
    namespace: dict[str, Any] = {}
    try:
        # dont_inherit: this module's `from __future__` flags must not leak into the solution.
        exec(compile(job["code"], "<solution>", "exec", dont_inherit=True), namespace)
        fn = namespace[job["entry_point"]]
    except BaseException as exc:
        text = _describe(exc).encode("utf-8", "replace")
        write(out_fd, pack(FRAME_LOAD_ERROR, 0, 0.0, size(text)) + text)
        return
    write(out_fd, pack(FRAME_LOADED, 0, 0.0, 0))
    for index, args in numbered(inputs):
        start = clock()
        try:
            result = fn(*args)
        except BaseException as exc:
            text = _describe(exc).encode("utf-8", "replace")
            write(out_fd, pack(FRAME_RAISED, index, clock() - start, size(text)) + text)
            return
        elapsed = clock() - start
        payload = enc(result)
        write(out_fd, pack(FRAME_OUTPUT, index, elapsed, size(payload)) + payload)
        if send_args:
            payload = enc(args)
            write(out_fd, pack(FRAME_ARGS, index, 0.0, size(payload)) + payload)
    write(out_fd, pack(FRAME_DONE, size(inputs), 0.0, 0))


def _set_limit(which: int, value: int) -> None:
    """Set soft and hard limit to `value`, or to the hard limit when that is lower. Outside
    Linux a limit the OS refuses (macOS and RLIMIT_AS) is left as it is."""
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and value > hard:
            resource.setrlimit(which, (hard, hard))
        elif LINUX:
            raise


def remove_tree(path: str) -> None:
    """rmtree that also removes what a job made unreadable (chmod 000 directories)."""
    def retry(function: Any, name: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
                shutil.rmtree(name, ignore_errors=True)
            else:
                function(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def job_main(host: Host, job: dict[str, Any], out_fd: int, workdir: str) -> None:
    """Lock this fresh process down, then run the solution. Always ends in os._exit."""
    code = 0
    try:
        parent = os.getppid()  # the host
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, out_fd)
        os.closerange(out_fd + 1, 65536)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update({"HOME": workdir, "TMPDIR": workdir, "OMP_NUM_THREADS": "1",
                           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        sys.stdin = _NoInput()  # type: ignore[assignment]
        limits = host.limits
        memory = int(limits["memory_mb"]) * 1024 * 1024
        _set_limit(resource.RLIMIT_AS, memory)
        _set_limit(resource.RLIMIT_STACK, memory)  # as EvalPlus: deep recursion may use it
        _set_limit(resource.RLIMIT_CPU, max(1, math.ceil(float(job["cpu_seconds"]))))
        _set_limit(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * 1024 * 1024)
        _set_limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
        _set_limit(resource.RLIMIT_CORE, 0)
        if host.nproc_counts:
            _set_limit(resource.RLIMIT_NPROC, int(limits["processes"]))
        if host.level == "landlock":
            install_landlock(host.landlock_abi, host.read_only, [workdir], host.devices)
        # Everything a job must open as root is open (or, for Landlock, in its rules) by here.
        drop_capabilities(host.job_uid)
        if host.job_uid is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a change of uid cleared it
            if os.getppid() != parent:  # the host died before it was set again
                os._exit(71)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if host.seccomp and host.arch is not None:
            install_seccomp(host.arch)
    except BaseException as exc:
        text = f"sandbox set-up failed: {_describe(exc)}".encode()
        try:
            _write_all(out_fd, FRAME.pack(FRAME_LOAD_ERROR, 0, 0.0, len(text)) + text)
        finally:
            os._exit(71)
    try:
        run_solution(job, out_fd)
    except BaseException:
        code = 72
    os._exit(code)


# ---------------------------------------------------------------------------------------------
# The host


NOBODY = 65534  # nobody and nogroup: the uid and gid that own nothing
_NOBODY_JOB = f"nobody ({NOBODY} on the host)"  # who such a job is, in words
_EVERY_USER = "every user (o+rX)"
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def python_dirs() -> list[str]:
    """The directories this interpreter runs from: prefixes and their real paths."""
    dirs: list[str] = []
    for base in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                 os.path.dirname(os.path.realpath(sys.executable))):
        for path in (base, os.path.realpath(base)):
            if path and os.path.isdir(path) and path not in dirs:
                dirs.append(path)
    return dirs


def unreadable(paths: list[str]) -> str | None:
    """The first of `paths` (sys.path: the standard library, lib-dynload, site-packages), or of
    the modules and packages each holds at its top level, that this process cannot read, with
    the reason; None when it can read them all. Entries that do not exist are skipped."""
    for top in paths:
        if not os.path.isabs(top):
            continue
        try:
            with os.scandir(top) as scan:
                entries = [entry.path for entry in scan]
        except (FileNotFoundError, NotADirectoryError):
            entries = [top] if os.path.isfile(top) else []
        except OSError as exc:
            return f"{top} ({exc.strerror})"
        for path in entries:
            try:
                mode = os.stat(path).st_mode
            except FileNotFoundError:  # a dangling link
                continue
            except OSError as exc:
                return f"{path} ({exc.strerror})"
            if not os.access(path, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
                return f"{path} (not readable)"
    return None


class _IdMapper:
    """A helper forked before `target` enters a new user namespace. It stays behind, in this
    namespace with root's CAP_SETUID and CAP_SETGID, and once told writes the target's maps:
    uid 0 and gid 0 in the new namespace are `uid` and `gid` outside it."""

    def __init__(self, target: int, uid: int, gid: int) -> None:
        read_fd, self.fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.fd)
            code = errno.ECANCELED
            try:
                if os.read(read_fd, 1) == b"1":
                    for name, outside in (("uid_map", uid), ("gid_map", gid)):
                        with open(f"/proc/{target}/{name}", "w") as fh:
                            fh.write(f"0 {outside} 1")
                    code = 0
            except OSError as exc:
                code = exc.errno or errno.EIO
            finally:
                os._exit(code)
        os.close(read_fd)
        self.uid = uid
        self.code = errno.ECANCELED

    def write_maps(self) -> None:
        """Have the maps written (the target is in its new namespace now); raise if not."""
        os.write(self.fd, b"1")
        code = self.close()
        if code:
            raise OSError(code, f"mapping the namespace's root to uid {self.uid} on the host "
                                f"failed: {os.strerror(code)}")

    def close(self) -> int:
        """End the helper, which exits without writing if not told to (a no-op once it has
        ended); its exit code: 0 or an errno."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid > 0:
            _, status = os.waitpid(self.pid, 0)
            self.pid = -1
            self.code = os.waitstatus_to_exitcode(status)
        return self.code


def _outermost(paths: list[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


class Host:
    """One warm host: isolation set up once, then one fresh child per job."""

    WORKDIR = "/.rla-work"  # inside the private root (namespaces level)

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.limits = cfg["limits"]
        self.base_dir = cfg["base_dir"]
        self.level = "rlimits"
        self.mechanisms: list[str] = []
        self.notes: list[str] = []
        self.arch = _arch()
        self.seccomp = False
        self.landlock_abi = 0
        self.nproc_counts = False
        self.read_only = _outermost([p for p in _SYSTEM_DIRS if os.path.isdir(p)]
                                    + python_dirs())
        self.devices = [d for d in _DEVICES if os.path.exists(d)]
        self.job_uid: int | None = None  # the uid and gid a job takes, if not the host's
        self.job_user = f"uid {os.getuid()}"  # who a job is on the host, in words
        self.readers = "that user"
        self.jobs = 0

    # -- set-up ------------------------------------------------------------------------------

    def setup(self, level: str) -> None:
        """Set up `level` or raise: the harness falls back by starting a new host."""
        if level in ("namespaces", "landlock") and not LINUX:
            raise OSError(errno.ENOSYS, f"{level} needs Linux")
        if level == "namespaces":
            self._setup_namespaces()
        elif level == "landlock":
            self.landlock_abi = landlock_abi()
            if not self.landlock_abi:
                raise OSError(errno.ENOSYS, "Landlock is not available on this kernel")
            self.mechanisms.append(f"landlock-fs-abi{self.landlock_abi}")
            if self.landlock_abi >= 4:
                self.mechanisms.append("landlock-tcp")
            if self.landlock_abi >= 6:
                self.mechanisms.append("landlock-signal-scope")
        elif level != "rlimits":
            raise ValueError(f"unknown isolation level {level!r}")
        self.level = level
        if os.geteuid() == 0 and level != "namespaces":
            # No uid map here: a job that stayed uid 0 would own every root file. This host
            # stays root (it makes and removes the working directories in the harness's
            # directory and kills jobs); each job becomes nobody (see job_main).
            self.job_uid = NOBODY
            self.job_user = _NOBODY_JOB
            self.readers = _EVERY_USER
            self.mechanisms.append("uid-nobody")
            self.notes.append(f"the harness runs as root: jobs are nobody and nogroup ({NOBODY}) "
                              "on the host, with no supplementary groups and no capabilities")

    def finish(self) -> None:
        """The parts that fork, run once the host is where it will stay (PID 1 if namespaced)."""
        if self.level == "namespaces" or self.job_uid is not None:
            problem = self._probe_reads()
            if problem:
                raise PermissionError(errno.EACCES, f"a job, {self.job_user}, {problem}")
        self.seccomp = self._probe_seccomp()
        if self.seccomp:
            self.mechanisms.append("seccomp")
        else:
            self.notes.append(f"no seccomp filter on {platform.machine()}: jobs may start "
                              "processes (bounded by RLIMIT_NPROC where it counts)")
        if self.nproc_counts:
            self.mechanisms.append("rlimit-nproc")
        self.mechanisms += ["session", "rlimits", "empty-env", "stdin-closed",
                            "output-to-devnull", "fresh-workdir", "no-capabilities",
                            "no-new-privs"]

    def _probe_reads(self) -> str | None:
        """What a job would lack, in words, or None: the Python on sys.path it cannot read (see
        `unreadable`) or, outside namespaces, the directory that holds the working directories
        if it cannot reach it; tried in a throwaway child with a job's uid and no
        capabilities, in the job's view."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_fd)
                drop_capabilities(self.job_uid)
                problem = unreadable(sys.path)
                if problem:
                    answer = (f"cannot read {problem}: this level needs the Python on sys.path "
                              f"readable by {self.readers}")
                elif self.level != "namespaces" and not os.access(self.base_dir, os.X_OK):
                    answer = (f"cannot reach {self.base_dir}, which holds the jobs' working "
                              f"directories: this level needs it reachable by {self.readers}")
                else:
                    answer = ""
                os.write(write_fd, answer.encode()[:4000])
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as reader:
            answer = reader.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return "cannot read sys.path (the check itself failed)"
        return answer or None

    def _probe_seccomp(self) -> bool:
        """Install the filter in a throwaway child: it must load and must refuse a fork."""
        if self.arch is None:
            return False
        pid = os.fork()
        if pid == 0:
            try:
                install_seccomp(self.arch)
                try:
                    child = os.fork()
                except OSError:
                    os._exit(0)
                if child == 0:
                    os._exit(0)
                os._exit(3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) == 0

    def _setup_namespaces(self) -> None:
        if self.arch is None:
            raise OSError(errno.ENOSYS, f"no pivot_root number for {platform.machine()}")
        # uid 0 of the new user namespace is, on the host, the user who started this host,
        # except root: a job that is root on the host owns, and so reads, every root-only file
        # in its view. Root's jobs are nobody instead. A process may map only its own uid into
        # a namespace it creates, so a helper that stays behind with root's CAP_SETUID writes
        # that map.
        uid, gid = os.getuid(), os.getgid()  # read after unshare: the overflow ids
        as_root = os.geteuid() == 0
        mapper = None
        if as_root:
            self.job_user = _NOBODY_JOB
            self.readers = _EVERY_USER
            os.setgroups([])  # root's supplementary groups would outlive the change of uid
            mapper = _IdMapper(os.getpid(), NOBODY, NOBODY)
        try:
            _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
            with open("/proc/self/setgroups", "w") as fh:
                fh.write("deny")
            if mapper is not None:
                mapper.write_maps()
            else:
                for name, own in (("uid_map", uid), ("gid_map", gid)):
                    with open(f"/proc/self/{name}", "w") as fh:
                        fh.write(f"0 {own} 1")
        finally:
            if mapper is not None:
                mapper.close()
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        # The new root is built on a tmpfs mounted over /tmp, which hides whatever lies under
        # /tmp: a venv or checkout there (a CI clone in /tmp) is a bind source too. So every
        # source is opened first, in this mount namespace, and bound from its descriptor: a
        # bind of /proc/self/fd/N takes the opened directory whatever now covers its path.
        sources: dict[str, int] = {}
        try:
            for path in (*self.read_only, *self.devices):
                sources[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
            if as_root:
                # Until here still uid 0 on the host, which may pass root's 0700 directories
                # (a pyenv under /root) to open the sources; their binds skip those parents.
                # From here on root of the namespace only, nobody and nogroup on the host; the
                # capabilities kept reach this namespace alone.
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            root = "/tmp"
            _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            for path in self.read_only:
                self._bind(sources[path], root + path, directory=True)
            for path in _SYSTEM_DIRS:
                if os.path.islink(path) and not os.path.lexists(root + path):
                    os.symlink(os.readlink(path), root + path)
            for path in self.devices:
                self._bind(sources[path], root + path, directory=False)
        finally:
            for fd in sources.values():
                os.close(fd)
        for path in (self.WORKDIR, "/.old"):
            os.mkdir(root + path, 0o755)
        os.chdir(root)
        _call(int(_libc.syscall(ctypes.c_long(self.arch["pivot_root"]), b".", b".old")),
              "pivot_root")
        os.chdir("/")
        _umount("/.old")
        os.rmdir("/.old")
        _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        self.nproc_counts = True  # counted per user namespace: this host's processes only
        self.mechanisms += ["user-namespace", "mount-namespace", "private-read-only-root",
                            "network-namespace", "ipc-namespace", "pid-namespace",
                            "tmpfs-workdir"]
        if as_root:
            self.mechanisms.append("uid-nobody")
            self.notes.append(f"the harness runs as root: jobs are uid 0 of their own user "
                              f"namespace without capabilities, nobody and nogroup ({NOBODY}) "
                              "on the host, with no supplementary groups")

    @staticmethod
    def _bind(source_fd: int, target: str, *, directory: bool) -> None:
        """Bind what `source_fd` (an O_PATH descriptor) names at `target`, read-only, keeping
        the source mount's locked flags."""
        source = f"/proc/self/fd/{source_fd}"
        if directory:
            os.makedirs(target, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            with open(target, "w"):
                pass
        try:
            _mount(source, target, None, MS_BIND)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # locked submounts: only a recursive bind may show them
                raise
            _mount(source, target, None, MS_BIND | MS_REC)
        flags = os.statvfs(target).f_flag
        keep = MS_NOSUID if not directory else MS_NOSUID | MS_NODEV
        for st_flag, ms_flag in ((os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                                 (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048),
                                 (os.ST_RELATIME, 1 << 21)):
            if flags & st_flag:
                keep |= ms_flag
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)

    # -- jobs --------------------------------------------------------------------------------

    def _workdir(self) -> str:
        if self.level == "namespaces":
            size = f"size={int(self.limits['tmpfs_mb'])}m,nr_inodes=4096,mode=0700"
            _mount("tmpfs", self.WORKDIR, "tmpfs", MS_NOSUID | MS_NODEV, size)
            return self.WORKDIR
        self.jobs += 1
        path = os.path.join(self.base_dir, f"job-{os.getpid()}-{self.jobs}")
        os.mkdir(path, 0o700)
        if self.job_uid is not None:
            os.chown(path, self.job_uid, self.job_uid)
        return path

    def _cleanup(self, pid: int, workdir: str) -> None:
        if self.level == "namespaces":
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)  # from PID 1: every other process of the namespace
            _reap_all()
            _umount(self.WORKDIR)
            return
        for target in (-pid, pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)
        remove_tree(workdir)

    def run(self, ctl: socket.socket, job: dict[str, Any], out_fd: int) -> bool:
        """Run one job; False when the harness has gone away."""
        try:
            workdir = self._workdir()
        except OSError as exc:
            os.close(out_fd)
            send(ctl, {"op": "ended", "error": f"no working directory: {exc}"})
            return True
        pid = os.fork()
        if pid == 0:
            try:
                job_main(self, job, out_fd, workdir)
            finally:
                os._exit(70)
        os.close(out_fd)
        status = self._wait(ctl, pid)
        self._cleanup(pid, workdir)
        if status is None:
            return False
        reply: dict[str, Any] = {"op": "ended"}
        if os.WIFSIGNALED(status):
            reply["signal"] = os.WTERMSIG(status)
        else:
            reply["exit"] = os.WEXITSTATUS(status)
        send(ctl, reply)
        return True

    def _wait(self, ctl: socket.socket, pid: int) -> int | None:
        """Until the job exits; any message (the harness sends "kill") kills it first.
        None when the harness went away."""
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        poller.register(ctl.fileno(), select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        gone = False
        try:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return None if gone else status
                for fd, _ in poller.poll(None if pidfd is not None else 20):
                    if fd != ctl.fileno():
                        continue
                    if recv(ctl) is None:
                        gone = True
                        poller.unregister(ctl.fileno())
                    for target in (-pid, pid):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(target, signal.SIGKILL)
        finally:
            if pidfd is not None:
                os.close(pidfd)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.001)


# ---------------------------------------------------------------------------------------------
# Control messages


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def recv(sock: socket.socket, fds: list[int] | None = None) -> dict[str, Any] | None:
    """One message; with `fds`, file descriptors that came with its first bytes are appended."""
    if fds is None:
        head = _recv_exact(sock, MSG_HEADER.size)
    else:
        data, received, _, _ = socket.recv_fds(sock, MSG_HEADER.size, 4)
        fds.extend(received)
        if not data:
            return None
        rest = _recv_exact(sock, MSG_HEADER.size - len(data)) if len(data) < MSG_HEADER.size \
            else b""
        head = None if rest is None else data + rest
    if head is None:
        return None
    (size,) = MSG_HEADER.unpack(head)
    if size > MAX_MESSAGE:
        raise ValueError("control message too large")
    body = _recv_exact(sock, size)
    return None if body is None else json.loads(body)  # type: ignore[no-any-return]


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    sock.sendall(MSG_HEADER.pack(len(body)) + body)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctl = socket.socket(fileno=int(argv[1]))
    cfg = recv(ctl)
    if cfg is None:
        return 0
    host = Host(cfg)
    try:
        host.setup(str(cfg["level"]))
        if host.level == "namespaces":
            child = os.fork()  # the first child of the new PID namespace is its init
            if child:
                ctl.close()
                _, status = os.waitpid(child, 0)
                return os.waitstatus_to_exitcode(status)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        host.finish()
    except Exception as exc:
        send(ctl, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 3
    _prctl(PR_SET_DUMPABLE, 0)
    gc.freeze()  # forked jobs then leave the host's objects alone (fewer copy-on-write faults)
    send(ctl, {"ok": True, "level": host.level, "mechanisms": host.mechanisms,
               "notes": host.notes, "uid": os.getuid(), "pid": os.getpid()})
    while True:
        fds: list[int] = []
        message = recv(ctl, fds)
        if message is None:
            return 0
        if message.get("op") == "run" and len(fds) == 1:
            size = int(message["inputs_size"])
            inputs = _recv_exact(ctl, size) if 0 <= size <= MAX_MESSAGE else None
            if inputs is None:
                os.close(fds[0])
                return 0
            message["inputs"] = inputs
            if not host.run(ctl, message, fds[0]):
                return 0
        else:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
