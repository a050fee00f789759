"""A check's time limit is CPU time: the same verdict on an idle machine and on a loaded one."""

import subprocess
import sys
import time

import pytest

from dojo import cpulimit


def spin() -> None:
    while True:
        pass


def test_a_loop_that_works_for_ever_is_stopped_by_its_cpu_time() -> None:
    with pytest.raises(cpulimit.CpuTimeExceeded, match=r"Timeout \(0.2 s of CPU time\)"), cpulimit.cpu_time_limit(0.2):
        spin()


def test_except_exception_in_the_code_under_test_cannot_swallow_the_limit() -> None:
    def stubborn() -> None:
        while True:
            try:
                while True:
                    pass
            except Exception:  # noqa: S112 - what careless kata code does
                continue

    with pytest.raises(cpulimit.CpuTimeExceeded), cpulimit.cpu_time_limit(0.2):
        stubborn()


def test_waiting_spends_no_cpu_time_so_a_busy_machine_changes_no_verdict() -> None:
    """The clock on the wall runs on while the process waits (as it does when other processes hold the
    CPUs); the limit does not: 0.5 s of waiting under a limit of 0.1 s of CPU time is not stopped."""
    with cpulimit.cpu_time_limit(0.1):
        time.sleep(0.5)
    with pytest.raises(cpulimit.CpuTimeExceeded), cpulimit.cpu_time_limit(0.1):
        spin()


def test_the_limit_is_lifted_after_the_block() -> None:
    with cpulimit.cpu_time_limit(0.1):
        pass
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # more CPU time than the limit was: nothing stops it now
        pass


def test_the_wall_clock_backstop_is_far_longer_than_the_cpu_limit() -> None:
    assert cpulimit.wall_seconds(10) > 20 * 10, "at 1/20 of a CPU (a load of 40 on 2 cores) the CPU limit comes first"
    assert cpulimit.wall_seconds(1) > 40 * 1, "a test's one-second limit too, at a load of 80"
    assert cpulimit.available()


def test_loading_that_works_for_ever_ends_the_process_and_dumps_where_it_was() -> None:
    """A kata whose loading never ends: the dump names the line (the parent reads it), at any load."""

    program = (
        "import os\n"
        "from dojo import cpulimit\n"
        "with cpulimit.cpu_time_limit_or_exit(0.2, 2, os._exit):\n"
        "    while True: pass\n"
    )
    command = [sys.executable, "-c", program]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert completed.returncode == 1
    assert "Timeout (0.2 s of CPU time)!" in completed.stderr
    assert 'File "<string>", line 4' in completed.stderr


@pytest.mark.cpu_seconds(60)
def test_a_check_marked_for_large_work_gets_the_higher_limit_it_names(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpulimit, "CPU_SECONDS", 10)
    assert cpulimit.seconds_for(request.node) == 60
    monkeypatch.setattr(cpulimit, "CPU_SECONDS", 90)  # DOJO_GRADER_TIMEOUT set higher than the mark
    assert cpulimit.seconds_for(request.node) == 90
    monkeypatch.setattr(cpulimit, "CPU_SECONDS", 0)  # switched off: no mark turns it back on
    assert cpulimit.seconds_for(request.node) == 0


def test_an_unmarked_check_gets_the_default_limit(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpulimit, "CPU_SECONDS", 10)
    assert cpulimit.seconds_for(request.node) == 10
