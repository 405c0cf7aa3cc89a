"""`camcloud local` (what `make run` starts) as a user runs it: banner, local.json, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import urllib3

from tests.conftest import jpeg_bytes
from tests.support import free_port

pytestmark = pytest.mark.stack


def test_camcloud_local_serves_writes_its_facts_and_stops_cleanly_on_ctrl_c(tmp_path: Path):
    # Given `camcloud local` started in an empty directory on a free port
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "camcloud_cli", "local"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 60
        for line in process.stdout:
            banner.append(line)
            if "local.json" in line or time.monotonic() > deadline:
                break
        text = "".join(banner)
        # Then it prints the gallery URL, the login and a curl command
        assert f"http://127.0.0.1:{port}/" in text, text
        assert "curl" in text and "Authorization: Bearer cc1_demo-cam_" in text
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
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    # Then every part stops and the process exits cleanly, freeing the port
    assert process.returncode == 0, output
    assert "stopping" in output
    with urllib3.PoolManager(retries=False) as http:
        with pytest.raises(urllib3.exceptions.HTTPError):
            http.request("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)
