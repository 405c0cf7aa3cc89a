"""`camcloud local` (what `make run` starts) as a user runs it: banner, local.json, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.conftest import jpeg_bytes
from tests.support import free_port

pytestmark = pytest.mark.stack


def start_local(tmp_path: Path, port: int, **popen: Any) -> subprocess.Popen[str]:
    """`camcloud local` in its own process group, so a test can always stop all of it."""
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "camcloud_cli", "local"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        **popen,
    )


def read_banner(process: subprocess.Popen[str]) -> str:
    """The lines up to the banner's last one (or what came before the process ended)."""
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "local.json" in line:
            break
    return "".join(banner)


def stop(process: subprocess.Popen[str], signum: int) -> str:
    """Send ``signum``; whatever happens, nothing of the process group outlives the test."""
    try:
        if process.poll() is None:
            process.send_signal(signum)
        output, _ = process.communicate(timeout=30)
        return output
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if process.poll() is None:
            process.kill()
            process.communicate()


def assert_group_gone(pgid: int) -> None:
    """No process of the group (moto server, workers, ...) is left running."""
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_camcloud_local_serves_writes_its_facts_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    # Given `camcloud local` started in an empty directory on a free port
    port = free_port()
    process = start_local(tmp_path, port)
    output = ""
    try:
        text = read_banner(process)
        # Then it prints the gallery URL, the login and a curl command
        assert f"http://127.0.0.1:{port}/" in text, text
        assert "curl" in text and "Authorization: Bearer cc1_demo-cam_" in text
        # And the simulate command it prints is one that runs from where it was started
        # (regression: it said `camcloud simulate`, which is not on PATH after `make run`)
        command = next(line.split()[0] for line in text.splitlines() if " simulate --" in line)
        assert shutil.which(command, path=os.environ["PATH"]) or (
            Path(command).is_absolute() and os.access(command, os.X_OK)
        ), command
        # And writes the same facts to .camcloud/local.json
        info = json.loads((tmp_path / ".camcloud" / "local.json").read_text())
        assert set(info) >= {"gallery_url", "upload_url", "s3_endpoint", "bucket", "region",
                             "devices", "gallery_user", "gallery_password"}
        assert info["gallery_password"] in text
        # And accepts an upload with the demo key
        response = urllib3.request("POST", info["upload_url"], body=jpeg_bytes(), headers={
            "Authorization": f"Bearer {info['devices']['demo-cam']}",
            "Content-Type": "image/jpeg"})
        assert response.status == 201
    finally:
        # When the user presses Ctrl-C
        output = stop(process, signal.SIGINT)
    # Then every part stops and the process exits cleanly, freeing the port
    assert process.returncode == 0, output
    assert "stopping" in output
    assert_group_gone(process.pid)
    with urllib3.PoolManager(retries=False) as http:
        with pytest.raises(urllib3.exceptions.HTTPError):
            http.request("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)


def ignore_sigint() -> None:
    """What `nohup`, `&` from a script and some CI runners do to a child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_make_run_started_with_sigint_ignored_stops_on_sigterm_and_leaves_no_process(
    tmp_path: Path,
):
    # Given `camcloud local` started the way `make test &` from a script starts it: SIGINT ignored
    port = free_port()
    process = start_local(tmp_path, port, preexec_fn=ignore_sigint)
    try:
        text = read_banner(process)
        assert "curl" in text, text
    finally:
        # When it is stopped with SIGTERM (Ctrl-C cannot reach it)
        output = stop(process, signal.SIGTERM)
    # Then it stops every part in order, exits cleanly and leaves no process behind
    assert process.returncode == 0, output
    assert "stopping" in output
    assert_group_gone(process.pid)
