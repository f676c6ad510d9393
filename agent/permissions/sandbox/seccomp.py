"""A seccomp filter for sandboxed commands, as raw classic-BPF bytes (what `bwrap --seccomp FD` and
prctl(PR_SET_SECCOMP) take). Standard library only: the launcher loads this file by path.

It refuses, with EPERM:
- socket(AF_UNIX, ...): a new unix socket could connect to a server outside the sandbox whose socket file
  is visible (the Docker daemon, an ssh-agent, a desktop bus); socketpair() stays allowed (it reaches
  nothing outside);
- io_uring_setup: io_uring can open sockets without the socket() system call;
- every system call of another architecture (32-bit x86 programs on x86-64 multiplex sockets through
  socketcall(), which this filter does not read) and the x32 ABI.
"""

from __future__ import annotations

import platform
import struct

__all__ = ["SeccompUnsupported", "no_socket_filter", "unix_socket_filter"]

# BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
EPERM = 1
AF_UNIX = 1
X32_BIT = 0x40000000

# seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]  (little-endian low word first)
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

# machine -> (AUDIT_ARCH, socket, io_uring_setup, has x32)
_ARCHES = {
    "x86_64": (0xC000003E, 41, 425, True),
    "aarch64": (0xC00000B7, 198, 425, False),
}


class SeccompUnsupported(RuntimeError):
    """No filter is known for this machine's architecture."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def no_socket_filter(machine: str | None = None) -> bytes:
    """socket() refused whatever its family: for a sandbox without its own network namespace."""
    return unix_socket_filter(machine, any_family=True)


def unix_socket_filter(machine: str | None = None, *, any_family: bool = False) -> bytes:
    """The filter program for this machine (or `machine`, as platform.machine() names it)."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SeccompUnsupported(f"no seccomp filter for the {machine} architecture")
    audit_arch, nr_socket, nr_io_uring, has_x32 = _ARCHES[machine]
    deny = _ERRNO | EPERM
    prog = [
        _insn(_LD_W_ABS, 0, 0, _ARCH),
        _insn(_JEQ_K, 1, 0, audit_arch),
        _insn(_RET_K, 0, 0, deny),  # another architecture
        _insn(_LD_W_ABS, 0, 0, _NR),
    ]
    if has_x32:
        prog += [_insn(_JGE_K, 0, 1, X32_BIT), _insn(_RET_K, 0, 0, deny)]
    prog += [
        _insn(_JEQ_K, 0, 1, nr_io_uring),
        _insn(_RET_K, 0, 0, deny),
        _insn(_JEQ_K, 1, 0, nr_socket),
        _insn(_RET_K, 0, 0, _ALLOW),
    ]
    if any_family:
        prog.append(_insn(_RET_K, 0, 0, deny))
    else:
        prog += [
            _insn(_LD_W_ABS, 0, 0, _ARG0_LOW),
            _insn(_JEQ_K, 0, 1, AF_UNIX),
            _insn(_RET_K, 0, 0, deny),
            _insn(_RET_K, 0, 0, _ALLOW),
        ]
    return b"".join(prog)
