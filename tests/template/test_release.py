"""The release the host installs: dependencies locked by hash, at the versions tested here."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "deploy" / "requirements.lock"


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from deploy/requirements.lock."""
    text = LOCK.read_text().replace("\\\n", " ")
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert match, f"not pinned with ==: {line}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        found[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return found


def runtime_closure() -> set[str]:
    """camcloud's runtime dependencies (no extras), recursively, as installed here."""
    seen: set[str] = set()
    pending = [r for r in requires("camcloud") or [] if "extra ==" not in r]
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            below = requires(name) or []
        except PackageNotFoundError:
            continue
        pending.extend(r for r in below if "extra ==" not in r)
    return seen


def test_every_locked_dependency_is_pinned_with_hashes() -> None:
    """Given the lock, then each line is name==version with at least one sha256 (pip verifies)."""
    for name, (version, hashes) in locked().items():
        assert hashes, f"{name}=={version} has no --hash: pip --require-hashes would refuse"


def test_regression_the_host_installs_exactly_the_versions_the_tests_ran_with() -> None:
    """Given this test environment, then the lock names its versions (run deploy/lock-deps.sh)."""
    lock = locked()
    closure = runtime_closure()

    missing = closure - set(lock)
    assert not missing, f"not in deploy/requirements.lock: {missing}; run deploy/lock-deps.sh"
    for name in closure:
        tested = distribution(name).version
        assert lock[name][0] == tested, (
            f"{name}: lock has {lock[name][0]}, tests ran {tested}; run deploy/lock-deps.sh"
        )


def test_the_updater_installs_with_require_hashes_into_a_release_of_its_own() -> None:
    """Given camcloud-update, then it builds a per-release venv from the lock, by hash only."""
    updater = (ROOT / "deploy" / "camcloud-update.sh").read_text()

    assert '--require-hashes \\\n  --only-binary=:all: -r "$new/requirements.lock"' in updater
    assert '--no-deps --no-index \\\n  "$new"/camcloud-*.whl' in updater
    assert 'mv -T "$root/current.new" "$root/current"' in updater
    assert "requirements.lock" in (ROOT / "deploy" / "make-release.sh").read_text()
