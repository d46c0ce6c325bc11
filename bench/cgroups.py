"""Each process of a benchmark in a CPU cgroup of its own, with a weight, as a deployment runs its services.

systemd puts every service unit in a cgroup of its own (``CPUWeight=``, default 100, 1-10000) and Docker every
container (``cpu_shares``, default 1024); under contention the kernel's scheduler then shares the cores between the
cgroups by weight, not between threads: a database with eight busy threads gets one service's share. Started from
one shell, the processes of a benchmark are all in one cgroup, where every thread counts alike.

``ServiceCgroups`` makes a parent cgroup ``kinetic-bench-PID`` in the ``cpu`` controller (cgroup v2: under the
unified hierarchy's root, with ``cpu`` enabled for its children; v1: in the ``cpu`` hierarchy, under the benchmark's
own cgroup), a child per named service with its
weight (v2 ``cpu.weight`` = the systemd weight; v1 ``cpu.shares`` = weight * 1024 / 100, systemd's own mapping), and
moves whole processes (``cgroup.procs``: every thread) into them. ``close`` moves what is left back to the cgroup the
benchmark was started in and removes the children. Needs root (write access to the cgroup filesystem's top);
``CgroupsUnavailable`` says which file could not be written. Linux only. Documented shapes: the kernel's
Documentation/admin-guide/cgroup-v2.rst ("cpu.weight") and cgroup-v1/cgroups.rst, systemd.resource-control(5)
("CPUWeight=", "CPUShares=" mapping).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
DEFAULT_WEIGHT = 100  # systemd's CPUWeight= default


class CgroupsUnavailable(RuntimeError):
    """The cgroup filesystem cannot be written here (not Linux, no cpu controller, no permission)."""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupsUnavailable(f"cannot write {value!r} to {path}: {exc} (needs root or a delegated cgroup)") from exc


def _own_cgroup(version: int, proc_self: Path) -> Path:
    """The cgroup this process is in, in the hierarchy used (/proc/self/cgroup: ``0::/path`` on v2, ``N:cpu,..:/path``
    on v1)."""
    for line in proc_self.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (version == 2 and controllers == "") or (version == 1 and "cpu" in controllers.split(",")):
            return Path(path.lstrip("/"))
    raise CgroupsUnavailable(f"{proc_self} names no cgroup with the cpu controller")


class ServiceCgroups:
    """One cgroup per service name under a parent of this benchmark's; ``weights``: systemd CPUWeight per name
    (others ``DEFAULT_WEIGHT``). Raises CgroupsUnavailable when it cannot be set up (and leaves nothing behind).
    A context manager: ``close`` on the way out.

    Where the parent goes: cgroup v1, under the benchmark's own cgroup in the ``cpu`` hierarchy; cgroup v2, under
    the hierarchy's root, whose ``cgroup.subtree_control`` must enable ``cpu`` (systemd enables it there): a child
    of the benchmark's own cgroup could not have it, as v2 enables a controller for children only where the parent
    holds no process of its own ("no internal processes", cgroup-v2.rst), and the benchmark's cgroup holds the
    benchmark."""

    def __init__(self, weights: dict[str, int], root: Path = ROOT, proc_self: Path = Path("/proc/self/cgroup")) -> None:
        for name, weight in weights.items():
            if not 1 <= weight <= 10_000:
                raise ValueError(f"CPU weight of {name}: {weight}, expected 1-10000 (systemd CPUWeight=)")
        self.weights = dict(weights)
        if (root / "cgroup.controllers").exists():
            self.version = 2
            enabled = (root / "cgroup.subtree_control").read_text().split()
            if "cpu" not in enabled:
                raise CgroupsUnavailable(
                    f"{root}/cgroup.subtree_control does not enable the cpu controller for its children "
                    f"(has: {' '.join(enabled) or 'nothing'})"
                )
            self.home = root / _own_cgroup(2, proc_self)
            base = root
        elif (root / "cpu" / "cpu.shares").exists():
            self.version = 1
            self.home = root / "cpu" / _own_cgroup(1, proc_self)
            base = self.home
        else:
            raise CgroupsUnavailable(f"no cpu controller under {root} (cgroup v2 cgroup.controllers or v1 cpu/)")
        self.parent = base / f"kinetic-bench-{os.getpid()}"
        self.groups: dict[str, Path] = {}
        try:
            self.parent.mkdir()
        except OSError as exc:
            raise CgroupsUnavailable(f"cannot make {self.parent}: {exc} (needs root)") from exc
        if self.version == 2:
            try:
                _write(self.parent / "cgroup.subtree_control", "+cpu")
            except CgroupsUnavailable:
                self.close()
                raise

    def __enter__(self) -> ServiceCgroups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def place(self, name: str, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the service's cgroup, made at its first use."""
        group = self.groups.get(name)
        if group is None:
            group = self.parent / name
            group.mkdir(exist_ok=True)
            self.groups[name] = group  # before its weight: ``close`` removes it whatever happens next
            weight = self.weight(name)
            if self.version == 2:
                _write(group / "cpu.weight", str(weight))
            else:
                _write(group / "cpu.shares", str(weight * 1024 // 100))
        _write(group / "cgroup.procs", str(pid))

    def weight(self, name: str) -> int:
        """The weight of ``name``, else of its kind (``alerts-1``: ``alerts``), else ``DEFAULT_WEIGHT``."""
        return self.weights.get(name, self.weights.get(name.split("-", maxsplit=1)[0], DEFAULT_WEIGHT))

    def describe(self) -> str:
        """One line: the cgroup version and each service's weight."""
        weights = ", ".join(f"{name} {self.weight(name)}" for name in self.groups)
        return f"one cgroup per process (cgroup v{self.version}, CPU weights as systemd's CPUWeight=: {weights})"

    def close(self) -> None:
        """Processes still in the children back to the benchmark's own cgroup; the children and parent removed.
        Safe to call twice."""
        for group in [*self.groups.values(), self.parent]:
            procs = group / "cgroup.procs"
            if procs.exists():
                for pid in procs.read_text().split():
                    with contextlib.suppress(OSError):  # exited meanwhile
                        (self.home / "cgroup.procs").write_text(pid)
        for group in [*self.groups.values(), self.parent]:
            with contextlib.suppress(OSError):  # a process that could not be moved out keeps it until it exits
                group.rmdir()
