"""Install this checkout into the running venv as an editable install, without building it.

Usage (from the repository root): .venv/bin/python scripts/link-checkout.py

What `pip install -e .` leaves in a venv for this flat layout, written directly: a .pth file
putting the checkout on sys.path, the console scripts of [project.scripts], and a dist-info
(metadata, entry points, direct_url.json marking it editable, RECORD), so pip and
importlib.metadata see camcloud as installed and a later `pip install -e '.[dev]'` (make test)
replaces it cleanly; an earlier install (pip's, or an older version) is removed first, by its
RECORD. Building the editable wheel with setuptools costs `make run` several
seconds of interpreter starts; this costs one. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

SCRIPT = """#!{python}
import sys
from {module} import {function}
if __name__ == "__main__":
    sys.exit({function}())
"""


def metadata(project: dict[str, Any]) -> str:
    """The core metadata pip reads back: name, version, requirements per extra."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}",
             f"Version: {project['version']}"]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {dep}; extra == "{extra}"' for dep in deps]
    return "\n".join(lines) + "\n"


def record_line(path: Path, site: Path) -> str:
    """One RECORD row: the path relative to site-packages, its sha256 and size."""
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    relative = os.path.relpath(path, site)  # the scripts: ../../../bin/NAME, as pip writes
    return f"{relative},sha256={digest},{len(data)}"


def uninstall(dist_info: Path, site: Path) -> None:
    """Remove an earlier install (pip's editable one, or an older version): its RECORD's files."""
    record = dist_info / "RECORD"
    rows = record.read_text().splitlines() if record.exists() else []
    for row in rows:
        path = (site / row.split(",")[0]).resolve()
        if path.is_relative_to(Path(sys.prefix).resolve()):
            path.unlink(missing_ok=True)
    shutil.rmtree(dist_info, ignore_errors=True)


def main() -> int:
    """Write the .pth, the console scripts and the dist-info for the checkout in the cwd."""
    root = Path.cwd().resolve()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    paths = sysconfig.get_paths()
    site, bin_dir = Path(paths["purelib"]), Path(paths["scripts"])
    dist_name = re.sub(r"[-_.]+", "_", name)
    for installed in site.glob(f"{dist_name}-*.dist-info"):
        uninstall(installed, site)
    dist_info = site / f"{dist_name}-{version}.dist-info"
    dist_info.mkdir()

    written = [site / f"__editable__.{dist_name}-{version}.pth"]
    written[0].write_text(f"{root}\n")
    for script, target in project.get("scripts", {}).items():
        module, _, function = target.partition(":")
        path = bin_dir / script
        path.write_text(SCRIPT.format(python=sys.executable, module=module, function=function))
        path.chmod(0o755)
        written.append(path)
    files = {
        "METADATA": metadata(project),
        "INSTALLER": "camcloud make run\n",
        "direct_url.json": json.dumps({"url": root.as_uri(), "dir_info": {"editable": True}}),
        "entry_points.txt": "[console_scripts]\n" + "".join(
            f"{script} = {target}\n" for script, target in project.get("scripts", {}).items()),
    }
    for filename, text in files.items():
        (dist_info / filename).write_text(text)
        written.append(dist_info / filename)
    rows = [record_line(path, site) for path in written]
    rows.append(f"{dist_info.name}/RECORD,,")
    (dist_info / "RECORD").write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
