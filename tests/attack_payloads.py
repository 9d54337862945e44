"""Round-two attack payloads against the sandbox (model code), grouped by the harm they aim at.

Each entry is (id, code). Code is formatted with `World.vars()` and runs after `PRELUDE`.
Payloads print what they learned with the markers the detectors look for (SIZE:, MTIME:,
PID:, EVENT:), and never echo a host path on failure (`attempt` prints only the error type),
so a detector hit is a real leak.
"""

from __future__ import annotations

PRELUDE = r"""
import os, sys, ctypes, stat, struct, fcntl, errno, threading
import _rlm_lockdown
NR = _rlm_lockdown.NR
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def sc(name, *args):
    if name not in NR:
        return -1, errno.ENOSYS
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    rc = _libc.syscall(NR[name], *conv)
    return rc, (ctypes.get_errno() if rc < 0 else 0)
def attempt(label, fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:
        print(label, "blocked:", type(exc).__name__, getattr(exc, "errno", ""))
        return None
    print(label, "returned", type(value).__name__)
    return value
def socks():
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found
AT_FDCWD = -100
def me_exec_frame():
    f = sys._getframe()
    while f is not None:
        m = f.f_locals.get("msg")
        if isinstance(m, dict) and m.get("op") == "exec" and "self" in f.f_locals:
            return m["id"], f.f_locals["self"].channel
        f = f.f_back
    raise RuntimeError("no exec frame")
def forge(**fields):
    rid, ch = me_exec_frame()
    ch.send_json({"op": "result", "id": rid, **fields})
def raw_frame(body, kind=0x4A, length=None):
    head = struct.pack(">IB", len(body) if length is None else length, kind)
    for fd in socks():
        try:
            os.write(fd, head + body)
        except OSError:
            pass
"""

# -- host file metadata (run with namespaces, and again as an older kernel without them) ----
METADATA = [
    ("chmod-setuid-victim", "attempt('chmod', os.chmod, {victim!r}, 0o4755)"),
    ("chmod-system-python", "m = os.stat({sysfile!r}).st_mode\nattempt('chmod', os.chmod, {sysfile!r}, stat.S_IMODE(m))"),
    ("chmod-stdlib-file", "m = os.stat({stdlib_file!r}).st_mode\nattempt('chmod', os.chmod, {stdlib_file!r}, stat.S_IMODE(m))"),
    ("chmod-stdlib-dir", "d = os.path.dirname({stdlib_file!r})\nattempt('chmod', os.chmod, d, stat.S_IMODE(os.stat(d).st_mode))"),
    ("chown-victim", "attempt('chown', os.chown, {victim!r}, 1000, 1000)"),
    ("chown-system-python-same-owner", "st = os.stat({sysfile!r})\nattempt('chown', os.chown, {sysfile!r}, st.st_uid, st.st_gid)"),
    ("lchown-stdlib", "st = os.stat({stdlib_file!r})\nattempt('lchown', os.lchown, {stdlib_file!r}, st.st_uid, st.st_gid)"),
    ("utime-victim-zero", "attempt('utime', os.utime, {victim!r}, (0, 0))"),
    ("utime-system-python-now", "attempt('utime', os.utime, {sysfile!r})"),
    ("utime-ns-stdlib", "st = os.stat({stdlib_file!r})\nattempt('utime', os.utime, {stdlib_file!r}, ns=(st.st_atime_ns, st.st_mtime_ns))"),
    ("fchmod-readable-fd", "fd = os.open({sysfile!r}, os.O_RDONLY)\nattempt('fchmod', os.fchmod, fd, stat.S_IMODE(os.fstat(fd).st_mode))"),
    ("fchown-readable-fd", "fd = os.open({stdlib_file!r}, os.O_RDONLY)\nst = os.fstat(fd)\nattempt('fchown', os.fchown, fd, st.st_uid, st.st_gid)"),
    ("futimens-readable-fd", "fd = os.open({stdlib_file!r}, os.O_RDONLY)\nattempt('futimens', os.utime, fd)"),
    ("chmod-through-o-path-proc-link", "fd = os.open({stdlib_file!r}, os.O_PATH)\nattempt('chmod', os.chmod, '/proc/self/fd/%d' % fd, 0o644)"),
    ("chmod-o-path-victim-proc-link", "fd = attempt('open', os.open, {victim!r}, os.O_PATH)\nif fd is not None: attempt('chmod', os.chmod, '/proc/self/fd/%d' % fd, 0o777)"),
    ("chmod-through-symlink", "attempt('symlink', os.symlink, {sysfile!r}, 'pylink')\nattempt('chmod', os.chmod, 'pylink', 0o755)"),
    ("hardlink-then-chmod", "attempt('link', os.link, {victim!r}, 'hard')\nattempt('chmod', os.chmod, 'hard', 0o4777)"),
    ("setxattr-victim", "attempt('setxattr', os.setxattr, {victim!r}, 'user.pwned', b'1')"),
    ("setxattr-system-python", "attempt('setxattr', os.setxattr, {sysfile!r}, 'user.pwned', b'1')"),
    ("fsetxattr-readable-fd", "fd = os.open({stdlib_file!r}, os.O_RDONLY)\nattempt('fsetxattr', os.setxattr, fd, 'user.pwned', b'1')"),
    ("removexattr-stdlib", "attempt('removexattr', os.removexattr, {stdlib_file!r}, 'user.none')"),
    ("syscall-fchmodat2", "print('rc', sc('fchmodat2', AT_FDCWD, {sysfile!r}.encode(), 0o755, 0))"),
    ("syscall-fchmodat", "print('rc', sc('fchmodat', AT_FDCWD, {stdlib_file!r}.encode(), 0o644))"),
    ("syscall-fchownat", "print('rc', sc('fchownat', AT_FDCWD, {stdlib_file!r}.encode(), 0, 0, 0))"),
    ("syscall-utimensat-now", "print('rc', sc('utimensat', AT_FDCWD, {sysfile!r}.encode(), None, 0))"),
    ("syscall-setxattrat", "print('rc', sc('setxattrat', AT_FDCWD, {sysfile!r}.encode(), 0, b'user.x', None, 0))"),
    ("syscall-lsetxattr", "print('rc', sc('lsetxattr', {stdlib_file!r}.encode(), b'user.x', b'1', 1, 0))"),
    ("copystat-onto-system-file", "import shutil\nopen('mine', 'w').close()\nattempt('copystat', shutil.copystat, 'mine', {stdlib_file!r})"),
]  # fmt: skip

# -- signals routed to the host through fd ownership (Landlock ABI < 6 does not scope them) -
SIGNALS = [
    ("fcntl-setown-channel", "for fd in socks(): attempt('setown', fcntl.fcntl, fd, fcntl.F_SETOWN, {host_pid})"),
    ("fcntl-setown-negative-pgid", "for fd in socks(): attempt('setown', fcntl.fcntl, fd, fcntl.F_SETOWN, -{host_pid})"),
    ("fcntl-setown-ex", "for fd in socks(): attempt('setown_ex', fcntl.fcntl, fd, 15, struct.pack('ii', 1, {host_pid}))"),
    ("fcntl-setsig-kill", "for fd in socks(): attempt('setsig', fcntl.fcntl, fd, 10, 9)"),
    ("fcntl-setfl-o-async", "for fd in socks(): attempt('setfl', fcntl.fcntl, fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)"),
    ("fcntl-full-sigio-route", "for fd in socks():\n    attempt('setown', fcntl.fcntl, fd, fcntl.F_SETOWN, {host_pid})\n    attempt('setsig', fcntl.fcntl, fd, 10, 10)\n    attempt('async', fcntl.fcntl, fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)\nllm_query('make the host write to us')"),
    ("fcntl-stderr-pipe-owner", "attempt('setown', fcntl.fcntl, 2, fcntl.F_SETOWN, {host_pid})\nattempt('async', fcntl.fcntl, 2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_ASYNC)\nfor _ in range(64): os.write(2, b'x' * 65536)  # the host drains a full pipe: SIGIO"),
    ("syscall-fcntl-setown-high-bits", "for fd in socks(): print('rc', sc('fcntl', fd, (1 << 32) | 8, {host_pid}))"),
    ("syscall-fcntl-setfl-async-high-bits", "for fd in socks(): print('rc', sc('fcntl', fd, 4, (1 << 40) | 0o20000))"),
    ("ioctl-fiosetown", "for fd in socks(): attempt('FIOSETOWN', fcntl.ioctl, fd, 0x8901, struct.pack('i', {host_pid}))"),
    ("ioctl-siocspgrp", "for fd in socks(): attempt('SIOCSPGRP', fcntl.ioctl, fd, 0x8902, struct.pack('i', {host_pid}))"),
    ("ioctl-fioasync", "for fd in socks(): attempt('FIOASYNC', fcntl.ioctl, fd, 0x5452, struct.pack('i', 1))"),
    ("fcntl-notify-dir", "fd = os.open('.', os.O_RDONLY)\nattempt('notify', fcntl.fcntl, fd, 1026, 0x80000000 | 0x4)"),
    ("fcntl-setlease", "fd = os.open('lease', os.O_RDONLY | os.O_CREAT)\nattempt('lease', fcntl.fcntl, fd, 1024, fcntl.F_RDLCK)"),
    ("ioctl-tiocsti", "attempt('TIOCSTI', fcntl.ioctl, 2, 0x5412, b'x')"),
    ("signal-sleeper-directly", "attempt('kill', os.kill, {sleeper}, 10)\nattempt('killpg', os.killpg, {sleeper}, 10)"),
]  # fmt: skip

# -- learning about the host outside the temp dir (needs the mount/pid namespaces) ----------
INFO = [
    ("stat-size", "st = attempt('stat', os.stat, {victim!r})\nif st: print('SIZE:%d' % st.st_size, 'MTIME:%d' % st.st_mtime)"),
    ("lstat-mtime", "st = attempt('lstat', os.lstat, {victim!r})\nif st: print('MTIME:%d' % st.st_mtime)"),
    ("statx-syscall", "buf = ctypes.create_string_buffer(256)\nrc = _libc.statx(AT_FDCWD, {victim!r}.encode(), 0, 0xfff, buf)\nif rc == 0: print('SIZE:%d' % struct.unpack_from('Q', buf, 40)[0])"),
    ("exists-by-errno", "try:\n    open({victim!r})\nexcept PermissionError:\n    print('SIZE:7919  (it exists: EACCES, not ENOENT)')\nexcept OSError:\n    pass"),
    ("access-check", "if os.access({victim!r}, os.F_OK): print('SIZE:7919 exists')"),
    ("path-exists", "import pathlib\nif pathlib.Path({victim!r}).exists(): print('SIZE:7919 exists')"),
    ("getsize", "n = attempt('getsize', os.path.getsize, {victim!r})\nif n: print('SIZE:%d' % n)"),
    ("listdir-parent", "names = attempt('listdir', os.listdir, os.path.dirname({victim_dir!r}))\nprint(names)"),
    ("scandir-victim-dir", "it = attempt('scandir', os.scandir, {victim_dir!r})\nprint([e.name for e in it] if it else None)"),
    ("glob-tmp", "import glob\nprint(glob.glob('/tmp/*/*/*'), glob.glob('/tmp/*'))"),
    ("walk-root", "print([d for d, _s, _f in os.walk('/')][:200])"),
    ("proc-pid-list", "for e in (attempt('listdir', os.listdir, '/proc') or []):\n    if e.isdigit(): print('PID:%s' % e)"),
    ("proc-host-pid-stat", "if attempt('stat', os.stat, '/proc/{host_pid}'): print('PID:{host_pid}')"),
    ("proc-host-status-uid", "t = attempt('read', lambda: open('/proc/{host_pid}/status').read())\nif t: print('PID:{host_pid}', t[:200])"),
    ("proc-probe-range", "seen = [p for p in range(1, 70000) if os.path.exists('/proc/%d' % p)]\nprint(['PID:%d' % p for p in seen if p > 2])"),
    ("getpgid-host", "if attempt('getpgid', os.getpgid, {host_pid}) is not None: print('PID:{host_pid}')"),
    ("getsid-sleeper", "if attempt('getsid', os.getsid, {sleeper}) is not None: print('PID:{sleeper}')"),
    ("sched-getaffinity-host", "if attempt('aff', os.sched_getaffinity, {host_pid}) is not None: print('PID:{host_pid}')"),
    ("getpriority-host", "if attempt('prio', os.getpriority, os.PRIO_PROCESS, {host_pid}) is not None: print('PID:{host_pid}')"),
    ("getxattr-victim", "v = attempt('getxattr', os.getxattr, {victim!r}, 'user.x')\nprint('SIZE:7919' if v is not None else '')"),
    ("listxattr-victim-dir", "v = attempt('listxattr', os.listxattr, {victim_dir!r})\nprint('SIZE:7919' if v is not None else '')"),
    ("inotify-host-dir", "fd = _libc.inotify_init1(0o4000)\nprint('fd', fd)\nif fd >= 0:\n    _libc.inotify_add_watch(fd, {victim_dir!r}.encode(), 0x100)\n    llm_query('touch')\n    try: print('EVENT:', os.read(fd, 4096))\n    except OSError as e: print('no event', e.errno)"),
    ("inotify-syscall-parent", "rc, err = sc('inotify_init1', 0)\nprint('rc', rc, err)\nif rc >= 0:\n    w = sc('inotify_add_watch', rc, os.path.dirname({victim_dir!r}).encode(), 0xfff)\n    if w[0] >= 0: print('EVENT: watching the host')"),
    ("fanotify-mark", "rc, err = sc('fanotify_init', 0, 0)\nprint('rc', rc)\nif rc >= 0: print('EVENT: fanotify')"),
]  # fmt: skip

# -- host memory through callbacks (no forging, then forged frames) -------------------------
CALLBACKS = [
    ("query-21m-empty-lists", "x = [[]] * 21_000_000\nattempt('llm_query', llm_query, x)\ndel x"),
    ("batched-1-5m-prompts", "attempt('batched', llm_query_batched, [''] * 1_500_000)"),
    ("batched-over-batch-cap", "attempt('batched', llm_query_batched, ['q'] * 20_000)"),
    ("query-message-with-nested-values", "attempt('q', llm_query, {{'role': 'user', 'content': 'x', 'extra': [[1]] * 100}})"),
    ("query-huge-model-name", "attempt('q', llm_query, 'x', model='m' * 100_000)"),
    ("query-200k-key-dict", "attempt('q', llm_query, {{str(i): '' for i in range(200_000)}})"),
    ("tool-call-deep-args", "import _rlm_worker, gc\nw = [o for o in gc.get_objects() if isinstance(o, _rlm_worker.Worker)][0]\na = []\nfor _ in range(200): a = [a]\nattempt('tool', w.call_host, 'tool', {{'name': 't', 'args': [a], 'kwargs': {{}}}})"),
    ("call-extra-arguments", "import _rlm_worker, gc\nw = [o for o in gc.get_objects() if isinstance(o, _rlm_worker.Worker)][0]\nattempt('call', w.call_host, 'llm_query', {{'prompt': 'x', 'evil': 1}})"),
    ("forged-call-21m-lists", "body = b'{{\"op\":\"call\",\"id\":999,\"name\":\"llm_query\",\"payload\":{{\"prompt\":[' + b'[],' * 5_000_000 + b'[]]}}}}'\nraw_frame(body)\nimport time; time.sleep(2)"),
    ("forged-call-hidden-op", "body = b'{{\"op\":\"result\",\"payload\":{{\"prompt\":[' + b'[],' * 300_000 + b'[]]}},\"id\":999,\"name\":\"llm_query\",\"op\":\"call\"}}'\nraw_frame(body)\nimport time; time.sleep(2)"),
    ("forged-call-oversized", "body = b'{{\"op\":\"call\",\"id\":999,\"name\":\"llm_query\",\"payload\":{{\"prompt\":\"' + b'a' * 30_000_000 + b'\"}}}}'\nraw_frame(body)\nimport time; time.sleep(2)"),
    ("forged-call-many-scalars", "body = b'{{\"op\":\"call\",\"id\":999,\"name\":\"llm_query_batched\",\"payload\":{{\"prompts\":[' + b'0,' * 1_000_000 + b'0]}}}}'\nraw_frame(body)\nimport time; time.sleep(2)"),
    ("forged-call-deep-nesting", "body = b'{{\"op\":\"call\",\"id\":999,\"name\":\"llm_query\",\"payload\":{{\"prompt\":' + b'[' * 90_000 + b']' * 90_000 + b'}}}}'\nraw_frame(body)\nimport time; time.sleep(2)"),
    ("forged-header-4gb", "raw_frame(b'', length=0xFFFFFFFF)\nimport time; time.sleep(2)"),
    ("forged-unknown-frame-kind", "raw_frame(b'{{}}', kind=0x58)\nimport time; time.sleep(2)"),
]  # fmt: skip

# -- output caps applied by the host to forged result frames --------------------------------
FORGED = [
    ("forged-60mb-stdout", "forge(stdout='x' * 60_000_000, stderr='', locals={{}})"),
    ("forged-50m-final-answer", "forge(stdout='', stderr='', final_answer='A' * 50_000_000)"),
    ("forged-50m-stderr", "forge(stdout='', stderr='e' * 50_000_000)"),
    ("forged-50m-partial-answer", "forge(stdout='', partial_answer='p' * 50_000_000)"),
    ("forged-500k-locals", "forge(stdout='', locals={{'v%d' % i: 'x' for i in range(500_000)}})"),
    ("forged-3m-char-name", "forge(stdout='', locals={{'n' * 3_000_000: '1'}})"),
    ("forged-huge-repr", "forge(stdout='', locals={{'x': 'r' * 10_000_000}})"),
    ("forged-bad-numbers", "forge(stdout='', truncated_chars=1e308, execution_time=float('nan'))"),
    ("forged-negative-numbers", "forge(stdout='', truncated_chars=-5, execution_time=-1e9)"),
    ("forged-wrong-types", "forge(stdout=['x'], stderr={{'a': 1}}, locals=[1, 2], final_answer=12345)"),
    ("forged-bool-numbers", "forge(stdout='', truncated_chars=True, execution_time=True)"),
    ("forged-1-5m-containers", "forge(stdout='', locals=[[] for _ in range(1_500_000)])\nimport time; time.sleep(2)"),
    ("forged-wrong-id", "rid, ch = me_exec_frame()\nch.send_json({{'op': 'result', 'id': rid + 7, 'final_answer': 'pwned'}})\nimport time; time.sleep(1)"),
    ("forged-peeked-60mb", "rid, ch = me_exec_frame()\nch.send_json({{'op': 'peeked', 'value': 'p' * 60_000_000}})"),
    ("forged-result-then-keep-running", "forge(stdout='early')\nimport time; time.sleep(0.5)\nprint('late')"),
]  # fmt: skip

# -- flooding the next prompt through variable names ----------------------------------------
FLOOD = [
    ("var-name-3m-chars", "globals()['n' * 3_000_000] = 1"),
    ("vars-300k", "g = globals()\nfor i in range(300_000): g['v%d' % i] = i"),
    ("vars-2000-long-names", "g = globals()\nfor i in range(2000): g[('w%d_' % i).ljust(99, 'x')] = i"),
    ("var-names-with-controls", "g = globals()\nfor i in range(50): g['a%d\\n\\x1b[2J\\u2028' % i] = i"),
    ("var-repr-10m", "class R:\n    def __repr__(self): return 'r' * 10_000_000\nbig = R()"),
    ("var-repr-raises", "class R:\n    def __repr__(self): raise SystemExit\nbad = R()\nbad2 = [R()]"),
]  # fmt: skip

CLEANUP = "globals().clear()"
