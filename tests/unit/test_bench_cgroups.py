"""bench/cgroups.py against the cgroup filesystem's documented shapes (kernel cgroup-v2.rst ``cpu.weight``, v1
``cpu.shares``; systemd.resource-control(5): CPUWeight= 100 <-> shares 1024), on a directory tree laid out as each
version's; a real cgroup filesystem is what ``python -m bench.alerts_scale --cpu-weight`` writes to."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cgroups import CgroupsUnavailable, ServiceCgroups


def _v2(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    (root / "user.slice").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpuset cpu io memory pids\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/user.slice\n")
    return root, proc


def test_v2_each_service_has_its_cgroup_and_weight(tmp_path: Path) -> None:
    root, proc = _v2(tmp_path)
    groups = ServiceCgroups({"alerts": 400}, root=root, proc_self=proc)
    parent = groups.parent
    assert parent.parent == root  # not under user.slice, which holds processes (v2: no internal processes)
    assert groups.home == root / "user.slice"
    assert (parent / "cgroup.subtree_control").read_text() == "+cpu"
    groups.place("alerts-1", 41)
    groups.place("influxd", 42)
    assert (parent / "alerts-1" / "cpu.weight").read_text() == "400"  # an instance weighs as its kind
    assert (parent / "alerts-1" / "cgroup.procs").read_text() == "41"
    assert (parent / "influxd" / "cpu.weight").read_text() == "100"
    assert "alerts-1 400, influxd 100" in groups.describe()


def test_v1_weight_is_written_as_shares(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    (root / "cpu" / "bench").mkdir(parents=True)
    (root / "cpu" / "cpu.shares").write_text("1024\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("4:memory:/x\n2:cpu,cpuacct:/bench\n0::/\n")
    groups = ServiceCgroups({"alerts": 400}, root=root, proc_self=proc)
    groups.place("alerts", 7)
    groups.place("bridge", 8)
    assert (groups.parent / "alerts" / "cpu.shares").read_text() == "4096"
    assert (groups.parent / "bridge" / "cpu.shares").read_text() == "1024"
    assert groups.parent.parent == root / "cpu" / "bench"


def test_cpu_not_enabled_for_the_roots_children_is_refused_by_name(tmp_path: Path) -> None:
    root, proc = _v2(tmp_path)
    (root / "cgroup.subtree_control").write_text("io memory\n")
    with pytest.raises(CgroupsUnavailable, match="does not enable the cpu controller"):
        ServiceCgroups({}, root=root, proc_self=proc)
    assert not list(root.glob("kinetic-bench-*"))


def test_no_cpu_controller_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CgroupsUnavailable, match="no cpu controller"):
        ServiceCgroups({}, root=tmp_path, proc_self=tmp_path / "none")


def test_close_moves_the_processes_back_to_the_benchmarks_cgroup(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    (root / "cpu").mkdir(parents=True)
    (root / "cpu" / "cpu.shares").write_text("1024\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("2:cpu,cpuacct:/\n")
    with ServiceCgroups({"alerts": 400}, root=root, proc_self=proc) as groups:
        groups.place("alerts", 7)
    assert (root / "cpu" / "cgroup.procs").read_text() == "7"
