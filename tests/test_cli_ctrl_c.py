"""Ctrl-C in a command, while its modules still load or while it works, ends it with one line "Aborted!" on
stderr and exit code 130, never a traceback (`npswatch.cli.main`). The service (`npswatch run`) and
`jobs run` catch it themselves to stop cleanly; tests/test_ops_shutdown.py holds those."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import wait_for

PY = sys.executable


def _loading(pid: int) -> bool:
    """Python has started and is importing npswatch's modules (a compiled library of site-packages is mapped)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "site-packages" in maps and ".so" in maps


def _reading(pid: int) -> bool:
    """The command is waiting for input on its pipe (it has done all its start-up)."""
    return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="reads process state from Linux's /proc")
@pytest.mark.parametrize("moment", [_loading, _reading], ids=["while-loading", "while-working"])
@pytest.mark.parametrize("how", [[PY, "-m", "npswatch"], [str(Path(PY).with_name("npswatch"))]], ids=["-m", "script"])
def test_ctrl_c_prints_aborted_and_exits_130(tmp_path, moment, how):
    # Ctrl-C as a terminal gives it: SIGINT at its default (a shell's background job inherits it ignored)
    proc = subprocess.Popen([*how, "extract"], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        try:
            wait_for(lambda: moment(proc.pid) or proc.poll() is not None, 120)
        except AssertionError:
            raise AssertionError(f"{moment.__name__} never seen: in {Path(f'/proc/{proc.pid}/wchan').read_text()}") from None
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, err.decode()) == (130, "Aborted!\n")
