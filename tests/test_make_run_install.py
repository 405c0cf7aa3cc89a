"""What `make run` installs (scripts/install-run.sh): enough for the stack, nothing it rebuilds
needlessly, and a reinstall whenever what it installs from changes."""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("camcloud", "camcloud_cli", "ingest", "gallery", "lambdas")

# Runs in a child process: starts the stack, takes an upload through the ingest, waits for the
# S3 notification -> SQS -> thumbnailer path to write the capture's record, opens the gallery's
# login page, then prints the file of every module imported since it started.
STACK_PROBE = """
import sys
before = set(sys.modules)
import io, json, tempfile, time
import urllib3
from PIL import Image
from camcloud import layout
from camcloud_cli.local import LocalStack

with tempfile.TemporaryDirectory() as workdir, LocalStack(workdir) as stack:
    photo = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(photo, "JPEG")
    answer = urllib3.request("POST", stack.info["upload_url"], body=photo.getvalue(), headers={
        "Authorization": "Bearer " + stack.info["devices"]["demo-cam"],
        "Content-Type": "image/jpeg"})
    ref = layout.parse_key(answer.json()["key"])
    deadline, rendered = time.monotonic() + 20, False
    while not rendered and time.monotonic() < deadline:
        listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=ref.meta_key)
        rendered = listed.get("KeyCount", 0) > 0
        time.sleep(0.1)
    login = urllib3.request("GET", stack.info["gallery_url"] + "login")
    files = {name: getattr(sys.modules[name], "__file__", None)
             for name in set(sys.modules) - before if name in sys.modules}
print(json.dumps({"upload": answer.status, "rendered": rendered, "login": login.status,
                  "files": sorted(set(filter(None, files.values())))}))
"""


def requirement_closure(name: str, extras: set[str]) -> set[str]:
    """The distributions ``name[extras]`` needs, by the installed metadata, itself included."""
    needed: set[str] = set()
    todo = [(name, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        dist_name, dist_extras = todo.pop()
        key = (canonicalize_name(dist_name), dist_extras)
        if key in seen:
            continue
        seen.add(key)
        needed.add(key[0])
        for text in metadata.distribution(dist_name).requires or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in dist_extras or {""}]
            if requirement.marker is None or any(
                requirement.marker.evaluate(env) for env in environments
            ):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return needed


@pytest.mark.stack
def test_the_local_stack_imports_nothing_outside_the_local_extra():
    # Given the [local] extra: moto's S3 and SQS only, not moto[server]'s every service
    allowed = requirement_closure("camcloud", {"local"})
    assert "cfn-lint" not in allowed and "docker" not in allowed
    # When the stack runs, takes an upload and renders its thumbnail (S3 -> SQS -> worker)
    probe = subprocess.run([sys.executable, "-c", STACK_PROBE], capture_output=True, text=True,
                           cwd=REPO, timeout=120)
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.splitlines()[-1])
    assert (result["upload"], result["rendered"], result["login"]) == (201, True, 200), result
    # Then every module it imported is the standard library's, camcloud's, or from a package
    # the extra installs (regression: `make run` installed moto[server] and its 60 packages)
    owners = {
        str(Path(dist.locate_file(file)).resolve()): canonicalize_name(dist.metadata["Name"])
        for dist in metadata.distributions() for file in dist.files or []
    }
    # The base interpreter's library (in a venv, "platstdlib" is the venv's own lib/).
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    outside = {
        file: owners.get(file, "(no distribution)")
        for file in map(lambda name: str(Path(name).resolve()), result["files"])
        if not any(Path(file).is_relative_to(REPO / package) for package in OWN_PACKAGES)
        and not (Path(file).is_relative_to(stdlib) and "site-packages" not in Path(file).parts)
        and owners.get(file) not in allowed
    }
    assert not outside, f"imported from outside camcloud[local]: {outside}"


def load_script(name: str) -> ModuleType:
    """One of scripts/*.py as a module (they are run as files, not imported as a package)."""
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), REPO / "scripts" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("wheel", "machine", "fits"), [
    ("uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     ("manylinux", "x86_64", (2, 36)), True),
    ("uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl", ("manylinux", "aarch64", (2, 17)), False),
    ("uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
     ("manylinux", "x86_64", (2, 36)), False),
    ("uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl", ("manylinux", "x86_64", (2, 36)), False),
    ("uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl", ("musllinux", "x86_64", (1, 2)), True),
    ("uv-0.13.9-py3-none-macosx_11_0_arm64.whl", ("manylinux", "aarch64", (2, 36)), False),
])
def test_the_uv_wheel_chosen_is_one_that_runs_on_this_machine(wheel, machine, fits):
    # Given a uv wheel's name and a machine (libc, architecture, libc version)
    get_uv = load_script("get-uv.py")
    # When get-uv.py checks the wheel's platform tags, Then only a wheel that runs there fits
    assert get_uv.wheel_fits(wheel, *machine) is fits


def test_the_checkout_is_installed_editable_without_a_build(tmp_path: Path):
    # Given a fresh venv (no pip, nothing installed)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # When link-checkout.py installs the checkout into it
    subprocess.run([str(python), "scripts/link-checkout.py"], cwd=REPO, check=True, timeout=60)
    # Then, from anywhere, the packages resolve to the checkout and the metadata says editable
    probe = subprocess.run([str(python), "-c", (
        "import importlib.util as u, importlib.metadata as m, json; print(json.dumps({"
        "'origin': u.find_spec('camcloud_cli').origin, 'version': m.version('camcloud'), "
        "'url': json.loads(m.distribution('camcloud').read_text('direct_url.json')), "
        "'scripts': [e.value for e in m.entry_points(group='console_scripts')]}))")],
        cwd=tmp_path, capture_output=True, text=True, check=True)
    found = json.loads(probe.stdout)
    assert Path(found["origin"]) == REPO / "camcloud_cli" / "__init__.py"
    assert found["version"] == metadata.version("camcloud")
    assert found["url"] == {"url": REPO.as_uri(), "dir_info": {"editable": True}}
    assert found["scripts"] == ["camcloud_cli:main"]
    # And the camcloud command runs this venv's Python, as pip's scripts do
    script = (venv / "bin" / "camcloud").read_text()
    assert script.startswith(f"#!{python}\n") and "from camcloud_cli import main" in script
    assert os.access(venv / "bin" / "camcloud", os.X_OK)


RUN_INPUTS = ["pyproject.toml", "scripts/install-run.sh", "scripts/get-uv.py",
              "scripts/link-checkout.py"]


@pytest.mark.parametrize("changed", RUN_INPUTS)
def test_make_run_installs_again_when_what_it_installs_from_changes(tmp_path: Path, changed):
    # Given a copy of the Makefile and the install's inputs, installed (the stamp is newest)
    make = shutil.which("make")
    assert make, "make is missing"
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for name in RUN_INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / ".venv/bin").mkdir(parents=True)
    (tmp_path / ".venv/bin/python").touch()
    stamp = tmp_path / ".venv/.installed-local"
    stamp.touch()
    for name in RUN_INPUTS:
        os.utime(tmp_path / name, (1_000_000, 1_000_000))
    up_to_date = [make, "-q", "-C", str(tmp_path), ".venv/.installed-local"]
    assert subprocess.run(up_to_date).returncode == 0
    # When one of them changes after the install
    os.utime(tmp_path / changed, (stamp.stat().st_mtime + 10,) * 2)
    # Then `make run` installs again
    assert subprocess.run(up_to_date).returncode == 1


def test_a_user_store_hashes_no_decoy_before_its_first_login(monkeypatch, s3, settings):
    # Given password hashing counted (a scrypt costs 0.15 s of CPU; the local stack makes two
    # user stores at start, and paid a decoy hash for each: regression)
    from camcloud import users

    hashed: list[str] = []
    real_hash = users.hash_password
    monkeypatch.setattr(users, "hash_password", lambda password: hashed.append(password)
                        or real_hash(password))
    # When a store is made
    store = users.UserStore(lambda: s3, settings.bucket)
    # Then nothing is hashed
    assert hashed == []
    # And its first login pays for the decoy whatever the name, so an unknown name is still
    # refused in the time a known one takes
    assert store.login("nobody", "some long password") is None
    assert len(hashed) == 1
    store.add("alice", "a long enough password")
    assert store.login("alice", "a long enough password") is not None
    assert len(hashed) == 2  # alice's own hash, no second decoy
