"""The README and docs/ stand alone and say what a fresh machine needs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_debian_package_system_deps_installs():
    # Given the packages scripts/system-deps.sh installs (its table and its header checks)
    script = (ROOT / "scripts" / "system-deps.sh").read_text()
    packages = set(re.findall(r"^\s*\[[^\]]+\]=(\S+)", script, re.M))
    packages |= set(re.findall(r"missing\+=\(([^)]+)\)", script)) - {'"${need[$cmd]}"'}
    assert {"nginx-light", "curl", "openssl", "chromium"} <= packages
    # Then the README names each of them
    readme = (ROOT / "README.md").read_text()
    assert [package for package in sorted(packages) if f"`{package}`" not in readme] == []


def test_the_docs_cite_no_spec_outside_the_repository():
    # The contracts live in docs/ (docs/protocol.md): no "SPEC" a reader cannot open.
    pages = [ROOT / "README.md", ROOT / "firmware" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
    citing = [page.name for page in pages
              if re.search(r"\bSPEC\b|\.\./shared/", page.read_text())]
    assert citing == []
