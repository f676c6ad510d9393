"""The Linux calls the Landlock backend needs, through ctypes: namespaces, mounts, Landlock, capabilities,
seccomp. Standard library only (the launcher loads this file by path, in a process started with -I -S).
Every call raises OSError with the failing step named, so the command's output says why it could not run.
"""

from __future__ import annotations

import _signal
import _socket  # the C module: `socket` would import enum, selectors ... into a launcher that must start fast
import ctypes
import fcntl
import os
import struct

__all__ = [
    "FS_READ",
    "LandlockRuleset",
    "bring_loopback_up",
    "drop_capabilities",
    "install_seccomp",
    "landlock_abi",
    "map_ids",
    "mount",
    "port_listens",
    "unshare",
    "wait_exit_status",
]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_MOVE, MS_PRIVATE, MS_RELATIME = 8192, 1 << 18, 1 << 21
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
             4096: MS_RELATIME}

_SYS_LANDLOCK_CREATE, _SYS_LANDLOCK_ADD, _SYS_LANDLOCK_RESTRICT = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 22, 24, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECCOMP_MODE_FILTER = 2
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE and their locks
_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> int:
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), what)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare (user, mount, network, pid and ipc namespaces)")


def map_ids(uid: int, gid: int) -> None:
    """Map our own ids to themselves in the new user namespace (what an unprivileged user may do)."""
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def locked_flags(path: str) -> int:
    """The flags a remount in a user namespace must keep (nosuid, nodev, noexec, atime: locked)."""
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS.items() if flags & st and ms != MS_RDONLY)


def bind_read_only(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target))


def bring_loopback_up() -> None:
    """`ip link set lo up` in the new network namespace: the command's own 127.0.0.1."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    finally:
        sock.close()


def port_listens(port: int) -> bool:
    """Whether a socket listens on 127.0.0.1:port in this network namespace (the relay, before the command
    starts). Read from /proc/net/tcp, so that the check makes no connection the proxy would see."""
    wanted = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            return any(fields[1] == wanted and fields[3] == "0A" for fields in (line.split() for line in table))
    except OSError:
        return False


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    version = _libc.syscall(_SYS_LANDLOCK_CREATE, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return max(0, int(version))


def fs_rights(abi: int) -> int:
    """Every filesystem right this ABI handles (ABI 1: 13 rights; 2: refer; 3: truncate; 5: ioctl_dev)."""
    rights = (1 << 13) - 1
    for version, bit in ((2, 13), (3, 14), (5, 15)):
        if abi >= version:
            rights |= 1 << bit
    return rights


class LandlockRuleset:
    """A Landlock ruleset that handles every filesystem right of `abi` (and, from ABI 6, scopes signals
    and abstract unix sockets to the sandbox); grants are added per path; `restrict_self` enforces it."""

    def __init__(self, abi: int) -> None:
        self.abi = abi
        self.handled = fs_rights(abi)
        scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
        attr = struct.pack("=QQQ", self.handled, 0, scoped)
        size = 24 if abi >= 6 else 16 if abi >= 4 else 8
        buf = ctypes.create_string_buffer(attr[:size], size)
        self.fd = _check(_libc.syscall(_SYS_LANDLOCK_CREATE, buf, ctypes.c_size_t(size), ctypes.c_uint32(0)),
                         "landlock_create_ruleset")

    def allow(self, path: str, rights: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= FS_FILE_RIGHTS
            rule = ctypes.create_string_buffer(struct.pack("=Qi", rights & self.handled, fd), 12)
            _check(_libc.syscall(_SYS_LANDLOCK_ADD, ctypes.c_int(self.fd), ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
                                 rule, ctypes.c_uint32(0)), f"landlock_add_rule {path}")
        finally:
            os.close(fd)

    def restrict_self(self) -> None:
        prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT, ctypes.c_int(self.fd), ctypes.c_uint32(0)),
               "landlock_restrict_self")
        os.close(self.fd)


def drop_capabilities() -> None:
    """No capability survives into the command, even as uid 0 of the namespace: the bounding set is
    emptied, securebits make root ordinary across exec, and the current sets are cleared."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap, what="drop capability bounding set")
    prctl(PR_SET_SECUREBITS, _SECUREBITS, what="securebits")
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")
    header = struct.pack("=Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two (effective, permitted, inheritable) triples, all empty
    _check(_libc.syscall(126 if _arch_x86() else 91, ctypes.create_string_buffer(header, 8),
                         ctypes.create_string_buffer(data, 24)), "capset")


def _arch_x86() -> bool:
    return os.uname().machine == "x86_64"


def install_seccomp(program: bytes) -> None:
    """Load a classic-BPF seccomp filter on this process (and what it starts from now on)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
    filt = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("=HxxxxxxQ", len(program) // 8, ctypes.addressof(filt))
    buf = ctypes.create_string_buffer(fprog, 16)
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(buf), what="seccomp")


def wait_exit_status(child: int, on_stop_signal) -> int:
    """Wait for `child` (a stop signal to us calls `on_stop_signal(signum, frame)`); its exit status as a
    shell reports it: the code, or 128 + the signal that killed it."""
    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        _signal.signal(sig, on_stop_signal)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
