"""Kernel lockdown the worker applies to itself before it runs any model code.

Standard library only (shipped as source to the worker). Everything goes through `ctypes`
calls to libc's `syscall`/`prctl`: no third-party binding, so nothing outside the Python
installation has to be readable by the worker.

Layers, in the order applied:
1. scrubbed environment (the host also starts the worker with a minimal env);
2. rlimits: address space, CPU seconds, file size, open files, no core dumps;
3. capabilities dropped (matters when the host runs as root);
4. Landlock: read-only on the interpreter's installation and shared libraries, read-write on
   the private temp dir only; no TCP bind/connect (ABI >= 4); no signals or abstract unix
   sockets outside the sandbox (ABI >= 6);
5. seccomp-BPF deny-list: exec, fork (threads allowed), socket creation, fd passing, ptrace,
   namespaces and mounts, signals to other processes, rlimit changes, kernel keyrings, bpf,
   perf, io_uring, module loading...

A layer the kernel lacks raises `LockdownUnavailable`, unless the host listed it in
`allow_degraded` (then it is reported as degraded).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import sys
from typing import Any

FEATURES = ("rlimits", "capabilities", "landlock", "seccomp")


class LockdownUnavailable(Exception):
    def __init__(self, feature: str, reason: str):
        self.feature = feature
        self.reason = reason
        super().__init__(f"{feature}: {reason}")


# Syscall numbers below are Linux's: never call them anywhere else (on another kernel the
# same number is a different syscall). Off Linux every kernel layer reports unavailable.
_LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True)
if _LINUX:
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.restype = ctypes.c_int
    _ulong = ctypes.c_ulong
    _libc.prctl.argtypes = [ctypes.c_int, _ulong, _ulong, _ulong, _ulong]


def _require_linux(feature: str) -> None:
    if not _LINUX:
        raise LockdownUnavailable(feature, f"needs Linux (this is {sys.platform})")


# Syscall numbers per architecture (checked against the kernel headers by
# tests/test_sandbox_lockdown.py). Landlock's are the same everywhere. Other
# architectures: seccomp and capabilities fail closed (unless allowed degraded).
# Syscalls added since 5.1 share one number on every architecture (newer than some distros'
# headers: the test checks the rule, not the header).
_NR_UNIFIED = {
    "fchmodat2": 452, "setxattrat": 463, "getxattrat": 464, "listxattrat": 465,
    "removexattrat": 466,
}  # fmt: skip
NR_X86_64 = {
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101,
    "socket": 41, "connect": 42, "accept": 43, "sendmsg": 46, "recvmsg": 47, "bind": 49,
    "listen": 50, "socketpair": 53, "syslog": 103, "setuid": 105, "setgid": 106,
    "setreuid": 113, "setregid": 114, "setgroups": 116, "setresuid": 117, "setresgid": 119,
    "setfsuid": 122, "setfsgid": 123, "capset": 126, "rt_sigqueueinfo": 129, "mknod": 133,
    "uselib": 134, "personality": 135, "vhangup": 153, "modify_ldt": 154, "pivot_root": 155,
    "adjtimex": 159, "setrlimit": 160, "chroot": 161, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "tkill": 200,
    "lookup_dcookie": 212, "clock_settime": 227, "tgkill": 234, "add_key": 248,
    "request_key": 249, "keyctl": 250, "kexec_load": 246, "migrate_pages": 256,
    "mknodat": 259, "unshare": 272, "move_pages": 279, "accept4": 288,
    "rt_tgsigqueueinfo": 297, "perf_event_open": 298, "recvmmsg": 299,
    "fanotify_init": 300, "prlimit64": 302, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "sendmmsg": 307, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "memfd_create": 319, "kexec_file_load": 320, "bpf": 321, "execveat": 322,
    "userfaultfd": 323, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
    "landlock_restrict_self": 446, "memfd_secret": 447, "process_mrelease": 448,
    "seccomp": 317, "ioctl": 16, "fcntl": 72, "chmod": 90, "fchmod": 91, "chown": 92,
    "fchown": 93, "lchown": 94, "utime": 132, "setxattr": 188, "lsetxattr": 189,
    "fsetxattr": 190, "getxattr": 191, "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194,
    "llistxattr": 195, "flistxattr": 196, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "utimes": 235, "inotify_init": 253, "inotify_add_watch": 254,
    "inotify_rm_watch": 255, "fchownat": 260, "futimesat": 261, "fchmodat": 268,
    "utimensat": 280, "inotify_init1": 294, "fanotify_mark": 301, **_NR_UNIFIED,
}  # fmt: skip
NR_AARCH64 = {
    "lookup_dcookie": 18, "mknodat": 33, "umount2": 39, "mount": 40, "pivot_root": 41,
    "chroot": 51, "vhangup": 58, "quotactl": 60, "acct": 89, "capset": 91, "personality": 92,
    "unshare": 97, "kexec_load": 104, "init_module": 105, "delete_module": 106,
    "clock_settime": 112, "syslog": 116, "ptrace": 117, "kill": 129, "tkill": 130,
    "tgkill": 131, "rt_sigqueueinfo": 138, "reboot": 142, "setregid": 143, "setgid": 144,
    "setreuid": 145, "setuid": 146, "setresuid": 147, "setresgid": 149, "setfsuid": 151,
    "setfsgid": 152, "setgroups": 159, "sethostname": 161, "setdomainname": 162,
    "setrlimit": 164, "settimeofday": 170, "adjtimex": 171, "socket": 198, "socketpair": 199,
    "bind": 200, "listen": 201, "accept": 202, "connect": 203, "sendmsg": 211, "recvmsg": 212,
    "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220, "execve": 221,
    "swapon": 224, "swapoff": 225, "migrate_pages": 238, "move_pages": 239,
    "rt_tgsigqueueinfo": 240, "perf_event_open": 241, "accept4": 242, "recvmmsg": 243,
    "prlimit64": 261, "fanotify_init": 262, "name_to_handle_at": 264,
    "open_by_handle_at": 265, "clock_adjtime": 266, "setns": 268, "sendmmsg": 269,
    "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
    "seccomp": 277, "memfd_create": 279, "bpf": 280, "execveat": 281, "userfaultfd": 282,
    "kexec_file_load": 294, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
    "landlock_restrict_self": 446, "memfd_secret": 447, "process_mrelease": 448,
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "getxattr": 8, "lgetxattr": 9,
    "fgetxattr": 10, "listxattr": 11, "llistxattr": 12, "flistxattr": 13, "removexattr": 14,
    "lremovexattr": 15, "fremovexattr": 16, "fcntl": 25, "inotify_init1": 26,
    "inotify_add_watch": 27, "inotify_rm_watch": 28, "ioctl": 29, "fchmod": 52,
    "fchmodat": 53, "fchownat": 54, "fchown": 55, "utimensat": 88, "fanotify_mark": 263,
    **_NR_UNIFIED,
}  # fmt: skip

_ARCHES = {"x86_64": (0xC000003E, NR_X86_64), "aarch64": (0xC00000B7, NR_AARCH64)}
_AUDIT_ARCH, NR = _ARCHES.get(platform.machine(), (0, {}))
NR_LANDLOCK_CREATE, NR_LANDLOCK_ADD_RULE, NR_LANDLOCK_RESTRICT = 444, 445, 446

# Denied outright with EPERM. clone/clone3/kill/tgkill/prlimit64 get argument checks below.
DENIED = (
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen",
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "mount", "umount2", "unshare", "setns",
    "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "sethostname", "setdomainname",
    "iopl", "ioperm", "modify_ldt", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "open_by_handle_at", "name_to_handle_at",
    "fanotify_init", "mknod", "mknodat", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups", "capset", "setrlimit",
    "memfd_create", "memfd_secret", "personality", "uselib", "lookup_dcookie",
    "migrate_pages", "move_pages", "process_madvise", "process_mrelease", "tkill",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal", "pidfd_open",
    "pidfd_getfd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    # File metadata: Landlock does not govern these, so without this a worker could chmod
    # (setuid bits), chown, touch or tag with xattrs any host file it can name.
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "getxattrat",
    "listxattrat", "removexattrat",
    # Watches: would report host activity (files the host creates) to model code.
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
    "fanotify_mark",
)  # fmt: skip

# fcntl/ioctl requests that make the kernel signal an fd's owner: with an fd the host also
# reads (the channel), they would route SIGIO/any signal to the host. Landlock ABI 6 scopes
# signals; older kernels do not, so seccomp refuses the requests themselves.
F_SETFL, F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY = 4, 8, 10, 15, 1024, 1026
O_ASYNC = 0o20000  # same value on x86_64 and aarch64
FCNTL_DENIED = (F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY)
FIOSETOWN, SIOCSPGRP, FIOASYNC, TIOCSPGRP, TIOCSTI = 0x8901, 0x8902, 0x5452, 0x5410, 0x5412
IOCTL_DENIED = (FIOSETOWN, SIOCSPGRP, FIOASYNC, TIOCSPGRP, TIOCSTI)

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _errno_error(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


# -- rlimits ---------------------------------------------------------------------------------
def set_rlimits(cfg: dict[str, Any], soft_only_memory: bool) -> dict[str, int]:
    """Address space, CPU, file size, open files, core. With seccomp on, model code cannot
    call setrlimit, so the memory hard limit may stay open for the host to raise the soft
    limit from outside (prlimit) when a bigger context arrives.

    Every limit is clamped to the hard limit this process inherited (`ulimit -v`, `prlimit
    --cpu` on HPC/CI runners): an unprivileged process cannot raise it, and a tighter
    inherited limit is only stricter. Returns the limits that were clamped."""
    clamped: dict[str, int] = {}

    def put(name: str, which: int, soft: int, hard: int) -> None:
        _cur_soft, inherited = resource.getrlimit(which)
        if inherited != resource.RLIM_INFINITY:
            if hard == resource.RLIM_INFINITY or hard > inherited:
                hard = inherited
            if soft == resource.RLIM_INFINITY or soft > inherited:
                soft = inherited
                clamped[name] = inherited
        resource.setrlimit(which, (soft, hard))

    mem = int(cfg["memory_limit"])
    put("memory", resource.RLIMIT_AS, mem, resource.RLIM_INFINITY if soft_only_memory else mem)
    cpu = int(cfg["cpu_limit"])
    put("cpu", resource.RLIMIT_CPU, cpu, cpu + 5)
    fsize = int(cfg["max_file_size"])
    put("file_size", resource.RLIMIT_FSIZE, fsize, fsize)
    nofile = int(cfg["max_open_files"])
    put("open_files", resource.RLIMIT_NOFILE, nofile, nofile)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return clamped


# -- capabilities ----------------------------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets (root hosts)."""
    _require_linux("capabilities")
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the last capability
                break
            if ctypes.get_errno() != errno.EPERM:  # EPERM: we had no CAP_SETPCAP, nothing held
                raise _errno_error("PR_CAPBSET_DROP")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if "capset" not in NR:
        raise LockdownUnavailable("capabilities", f"no syscall table for {platform.machine()}")
    if _libc.syscall(NR["capset"], ctypes.byref(header), ctypes.byref(data)) != 0:
        raise _errno_error("capset")


# -- Landlock --------------------------------------------------------------------------------
LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1, 2, 4, 8
LL_FS_V1 = (1 << 13) - 1
LL_REFER, LL_TRUNCATE, LL_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
LL_FILE_RIGHTS = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV
LL_NET_BIND_TCP, LL_NET_CONNECT_TCP = 1, 2
LL_SCOPE_ABSTRACT_UNIX_SOCKET, LL_SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    if not _LINUX:
        return 0
    abi = _libc.syscall(NR_LANDLOCK_CREATE, None, 0, 1)  # ..._VERSION flag
    return abi if abi > 0 else 0


def apply_landlock(read_only: list[str], read_write: list[str], max_abi: int | None = None) -> int:
    """Restrict the filesystem (and TCP, signals where the ABI has them). Returns the ABI.

    `max_abi` (internal, for tests) uses at most that ABI, as an older kernel would: e.g. 5
    leaves signals unscoped, like Debian 12 and Ubuntu 22.04/24.04 stock kernels."""
    _require_linux("landlock")
    abi = landlock_abi()
    if max_abi is not None:
        abi = min(abi, int(max_abi))
    if abi < 1:
        raise LockdownUnavailable(
            "landlock", f"kernel has no Landlock ({os.strerror(ctypes.get_errno())})"
        )
    fs = LL_FS_V1
    if abi >= 2:
        fs |= LL_REFER
    if abi >= 3:
        fs |= LL_TRUNCATE
    if abi >= 5:
        fs |= LL_IOCTL_DEV
    attr = _RulesetAttr(fs, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP  # no rule: no TCP at all
        size = 16
    if abi >= 6:
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL
        size = 24
    ruleset = _libc.syscall(NR_LANDLOCK_CREATE, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise LockdownUnavailable("landlock", str(_errno_error("landlock_create_ruleset")))
    try:
        ro = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR
        for path in read_only:
            _landlock_rule(ruleset, path, ro)
        for path in read_write:
            _landlock_rule(ruleset, path, fs)
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _errno_error("PR_SET_NO_NEW_PRIVS")
        if _libc.syscall(NR_LANDLOCK_RESTRICT, ruleset, 0) != 0:
            raise LockdownUnavailable("landlock", str(_errno_error("landlock_restrict_self")))
    finally:
        os.close(ruleset)
    return abi


def _landlock_rule(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this system lacks (e.g. /lib64): nothing to allow
    try:
        if not os.path.isdir(path):
            access &= LL_FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        if _libc.syscall(NR_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
            raise _errno_error(f"landlock_add_rule({path})")
    finally:
        os.close(fd)


# -- seccomp ---------------------------------------------------------------------------------
class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_CLONE_THREAD = 0x00010000
_CLONE_NEW_ANY = 0x7E020000 | 0x00000080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}
_OFF_NR, _OFF_ARCH = 0, 4


def _arg_lo(i: int) -> int:
    return 16 + 8 * i


def _arg_hi(i: int) -> int:
    return 16 + 8 * i + 4


def build_seccomp_program(
    pid: int, arch: int | None = None, table: dict[str, int] | None = None
) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jt, jf, k) tuples. Jumps are relative to the next insn.
    `arch`/`table` default to this machine's (AUDIT_ARCH value, syscall numbers)."""
    arch = _AUDIT_ARCH if arch is None else arch
    nr = NR if table is None else table
    deny = _RET_ERRNO | errno.EPERM
    allow = _RET_ALLOW
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _OFF_NR),
        (_JGE, 0, 1, 0x40000000),  # x32 ABI numbers (x86_64): refuse
        (_RET, 0, 0, deny),
    ]
    for name in DENIED:
        if name in nr:  # e.g. aarch64 has no fork/vfork/mknod syscalls at all
            prog += [(_JEQ, 0, 1, nr[name]), (_RET, 0, 0, deny)]
    # clone3 hides its flags in memory seccomp cannot read: ENOSYS makes glibc fall back to
    # clone(2), whose flags we can check.
    prog += [(_JEQ, 0, 1, nr["clone3"]), (_RET, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    # clone: threads only (CLONE_THREAD set, no new namespaces).
    prog += [
        (_JEQ, 0, 5, nr["clone"]),
        (_LD_W_ABS, 0, 0, _arg_lo(0)),
        (_JSET, 2, 0, _CLONE_NEW_ANY),
        (_JSET, 0, 1, _CLONE_THREAD),
        (_RET, 0, 0, allow),
        (_RET, 0, 0, deny),
    ]
    # kill / tgkill: only this process.
    for name in ("kill", "tgkill"):
        prog += [
            (_JEQ, 0, 6, nr[name]),
            (_LD_W_ABS, 0, 0, _arg_lo(0)),
            (_JEQ, 0, 3, pid),
            (_LD_W_ABS, 0, 0, _arg_hi(0)),
            (_JEQ, 0, 1, 0),
            (_RET, 0, 0, allow),
            (_RET, 0, 0, deny),
        ]
    # prlimit64: reading is fine, setting (new_limit != NULL) is not.
    prog += [
        (_JEQ, 0, 6, nr["prlimit64"]),
        (_LD_W_ABS, 0, 0, _arg_lo(2)),
        (_JEQ, 0, 3, 0),
        (_LD_W_ABS, 0, 0, _arg_hi(2)),
        (_JEQ, 0, 1, 0),
        (_RET, 0, 0, allow),
        (_RET, 0, 0, deny),
    ]
    # fcntl: no owner/signal/lease/notify requests, no F_SETFL with O_ASYNC (cmd is an int:
    # the kernel reads only its low 32 bits, as this filter does).
    n = len(FCNTL_DENIED)
    prog += [(_JEQ, 0, n + 6, nr["fcntl"]), (_LD_W_ABS, 0, 0, _arg_lo(1))]
    prog += [(_JEQ, n - i + 2, 0, cmd) for i, cmd in enumerate(FCNTL_DENIED)]
    prog += [
        (_JEQ, 0, 3, F_SETFL),
        (_LD_W_ABS, 0, 0, _arg_lo(2)),
        (_JSET, 0, 1, O_ASYNC),
        (_RET, 0, 0, deny),
        (_RET, 0, 0, allow),
    ]
    # ioctl: no FIOSETOWN/SIOCSPGRP/FIOASYNC (the same signal route), no tty pgrp/injection.
    n = len(IOCTL_DENIED)
    prog += [(_JEQ, 0, n + 3, nr["ioctl"]), (_LD_W_ABS, 0, 0, _arg_lo(1))]
    prog += [(_JEQ, n - i, 0, cmd) for i, cmd in enumerate(IOCTL_DENIED)]
    prog += [(_RET, 0, 0, allow), (_RET, 0, 0, deny)]
    prog.append((_RET, 0, 0, allow))
    return prog


def apply_seccomp() -> int:
    _require_linux("seccomp")
    if not NR:
        machine = platform.machine()
        raise LockdownUnavailable("seccomp", f"no syscall table for {machine} in this version")
    prog = build_seccomp_program(os.getpid())
    filters = (_SockFilter * len(prog))(*[_SockFilter(*insn) for insn in prog])
    fprog = _SockFprog(len(prog), filters)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LockdownUnavailable("seccomp", str(_errno_error("PR_SET_NO_NEW_PRIVS")))
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog): all threads.
    if _libc.syscall(NR["seccomp"], 1, 1, ctypes.byref(fprog)) != 0:
        raise LockdownUnavailable("seccomp", str(_errno_error("seccomp(SET_MODE_FILTER)")))
    return len(prog)


# -- all of it -------------------------------------------------------------------------------
def apply(cfg: dict[str, Any]) -> dict[str, Any]:
    """Apply every layer `cfg` asks for; returns a report of what is on and what is degraded.

    cfg: memory_limit, cpu_limit, max_file_size, max_open_files, read_only (paths),
    read_write (paths), layers (subset of FEATURES), allow_degraded (feature names)."""
    allowed = set(cfg.get("allow_degraded") or ())
    layers = set(cfg.get("layers") or FEATURES)
    report: dict[str, Any] = {"degraded": {}}
    os.environ.clear()
    os.environ.update(cfg.get("env") or {})
    if _LINUX:
        _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the host

    def attempt(feature: str, fn: Any) -> None:
        if feature not in layers:
            return
        try:
            report[feature] = fn()
        except (LockdownUnavailable, OSError) as exc:
            if feature not in allowed:
                raise LockdownUnavailable(feature, getattr(exc, "reason", str(exc))) from exc
            report["degraded"][feature] = str(exc)

    seccomp_on = "seccomp" in layers and "seccomp" not in allowed
    attempt("rlimits", lambda: {"clamped": set_rlimits(cfg, soft_only_memory=seccomp_on)})
    attempt("capabilities", lambda: drop_capabilities() or True)
    attempt(
        "landlock",
        lambda: apply_landlock(
            list(cfg["read_only"]), list(cfg["read_write"]), cfg.get("landlock_max_abi")
        ),
    )
    attempt("seccomp", apply_seccomp)
    return report
