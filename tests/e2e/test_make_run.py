"""`make run`, the README's first step for a new user: the address it prints is where huying
answers, whatever HUYING_HOST and HUYING_PORT say."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .server import STOP_TIMEOUT, free_port

REPO = Path(__file__).resolve().parents[2]
READY_WITHIN = 60.0  # seconds: migrate, seed and start on a busy machine


def test_make_run_prints_the_address_it_serves_on(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYING_", "MAKE"))}
    env.update(HUYING_DATA_DIR=str(tmp_path / "var"), HUYING_HOST="127.0.0.2", HUYING_PORT=str(port))
    # This interpreter's environment stands in for .venv, which make must not (re)install here.
    make = [
        "make",
        "-C",
        str(REPO),
        "-o",
        ".venv/.installed-dev",
        "run",
        f"BIN={Path(sys.executable).parent}",
    ]
    proc = subprocess.Popen(
        make, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    printed: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line)
            if "serving on" in line:
                break
        said = re.search(r"serving on (http://\S+)", "".join(printed))
        assert said, f"make run never said where it serves:\n{''.join(printed)}"
        assert said.group(1) == f"http://127.0.0.2:{port}"
        deadline = time.monotonic() + READY_WITHIN
        while True:
            try:
                assert httpx.get(f"{said.group(1)}/healthz", timeout=2.0).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None, f"make run exited with {proc.returncode}"
                assert time.monotonic() < deadline, f"nothing answers at {said.group(1)}"
                time.sleep(0.1)
    finally:
        if proc.returncode is None:  # not waited for yet: the number is still make's
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
