"""The README and docs/ stand alone and say what a fresh machine needs."""

from __future__ import annotations

import re
import subprocess
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
    # The contracts live in docs/ (docs/protocol.md): no contract document a reader cannot open.
    pages = [ROOT / "README.md", ROOT / "firmware" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
    citing = [page.name for page in pages
              if re.search(r"\bSPEC\b|\.\./shared/", page.read_text())]
    assert citing == []


# A citation of a contract document outside the repository: the old specification by name (or
# as "the" one, in any case), its style companion, or a path into the folder beside the clone.
# The character classes ("[P]", "[d]") keep this file from matching itself.
_OUTSIDE_CITATION = re.compile(
    r"\bS[P]EC\b|(?i:\bthe s[p]ec\b)|\bSTYL[E]\.md\b|\.\./share[d]/|/work/share[d]\b")
# The one legitimate mention: CI provides the firmware's real libraries beside the clone.
_ALLOWED = {(".ci/run", "shared/firmware-deps")}


def _tracked_text_files() -> list[Path]:
    """Every file git tracks in this checkout that is text (no NUL byte)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    paths = [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    return [path for path in paths if b"\0" not in path.read_bytes()]


def test_no_tracked_source_cites_a_spec_outside_the_repository():
    # Given every tracked text file: code, comments, docstrings, templates, scripts, firmware
    files = _tracked_text_files()
    assert any(path.name == "service.py" for path in files)
    # When their lines are searched for a citation of a document the repository does not hold
    citing = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
              for path in files
              for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
              if _OUTSIDE_CITATION.search(line)
              and not any(str(path.relative_to(ROOT)) == name and allowed in line
                          for name, allowed in _ALLOWED)]
    # Then there is none: a comment points at docs/ (docs/protocol.md, ...) instead
    assert citing == []


def test_the_citation_check_catches_the_forms_it_is_meant_to():
    # Given the forms a citation took before the docs stood alone, and code that merely says spec
    word, folder = "S" + "PEC", "share" + "d"  # split: this file must not match its own check
    cited = [f"# {word}: ingest writes raw/", f'see "the {word.lower()}"',
             f"/work/{folder}/{word}.md", f"../{folder}/STY" + "LE.md"]
    innocent = ["hints.ai_family = AF_UNSPEC;", "spec = importlib.util.find_spec(name)",
                'isoformat(timespec="seconds")']
    # Then each citation is found and none of the code is
    assert [text for text in cited if not _OUTSIDE_CITATION.search(text)] == []
    assert [text for text in innocent if _OUTSIDE_CITATION.search(text)] == []
