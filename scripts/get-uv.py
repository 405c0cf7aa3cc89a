"""Print the path of a uv binary for `make run`'s install, fetching the pinned one once per user.

Usage: python3 scripts/get-uv.py VERSION

uv installs the local stack's packages in a few seconds where pip takes minutes, but a fresh
virtualenv has only pip, and pip itself needs seconds of CPU just to start from its wheel. So
the uv wheel for this platform is fetched from the package index pip would use (PIP_INDEX_URL,
else PyPI; the index's sha256 checked) and its binary kept in the user's cache
(``${XDG_CACHE_HOME:-~/.cache}/camcloud/uv-VERSION-PLATFORM/uv``), next to pip's and uv's own
caches: every later clone finds it there. Standard library only (this runs before any venv).
Exit status 1 with the reason on stderr when there is no wheel for this platform or the index
cannot be reached; the caller then installs with pip.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import ssl
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

# uv's own names for these machines, as they appear in its wheels' platform tags.
ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
          "armv7l": "armv7l", "i686": "i686", "ppc64le": "ppc64le", "s390x": "s390x"}
MANYLINUX_ALIASES = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def platform_key() -> tuple[str, str, tuple[int, int]]:
    """(libc, arch, libc version) of this Linux machine; ValueError elsewhere."""
    if not sys.platform.startswith("linux"):
        raise ValueError(f"no uv wheel is chosen for {sys.platform} here")
    arch = ARCHES.get(platform.machine().lower())
    if arch is None:
        raise ValueError(f"unknown machine {platform.machine()!r}")
    libc, version = platform.libc_ver()
    if libc == "glibc":
        major, minor = (int(part) for part in version.split(".")[:2])
        return "manylinux", arch, (major, minor)
    return "musllinux", arch, (1, 2)


def wheel_fits(filename: str, libc: str, arch: str, libc_version: tuple[int, int]) -> bool:
    """Whether one of the wheel's platform tags runs on this libc and machine."""
    tags = filename.removesuffix(".whl").split("-")[-1].split(".")
    for tag in tags:
        if not tag.endswith(f"_{arch}"):
            continue
        name = tag.removesuffix(f"_{arch}")
        match = re.fullmatch(rf"{libc}_(\d+)_(\d+)", name)
        if libc == "manylinux" and name in MANYLINUX_ALIASES:
            needs = MANYLINUX_ALIASES[name]
        elif match:
            needs = (int(match[1]), int(match[2]))
        else:
            continue
        if needs <= libc_version:
            return True
    return False


def index_files(index: str, context: ssl.SSLContext) -> list[tuple[str, str, str]]:
    """(filename, url, sha256) of every file the index lists for uv (JSON or HTML API)."""
    url = index.rstrip("/") + "/uv/"
    request = urllib.request.Request(url, headers={
        "Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        body = response.read()
        content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:
        return [(item["filename"], urllib.parse.urljoin(url, item["url"]),
                 item.get("hashes", {}).get("sha256", ""))
                for item in json.loads(body)["files"]]
    files = []
    for href in re.findall(r'href="([^"]+)"', body.decode()):
        link, _, fragment = urllib.parse.urljoin(url, href).partition("#")
        filename = urllib.parse.unquote(link.rsplit("/", 1)[-1])
        files.append((filename, link, fragment.removeprefix("sha256=")))
    return files


def fetch(version: str, target: Path) -> None:
    """Download this platform's uv wheel, check its sha256, extract the binary to ``target``."""
    libc, arch, libc_version = platform_key()
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or None
    context = ssl.create_default_context(cafile=cafile)
    index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
    candidates = [
        entry for entry in index_files(index, context)
        if entry[0].startswith(f"uv-{version}-") and entry[0].endswith(".whl")
        and wheel_fits(entry[0], libc, arch, libc_version)
    ]
    if not candidates:
        raise ValueError(f"{index} has no uv {version} wheel for {libc} {arch}")
    filename, url, sha256 = candidates[0]
    if not sha256:
        raise ValueError(f"{index} gives no sha256 for {filename}")
    print(f"camcloud: downloading {filename} (once; kept in {target.parent})", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120, context=context) as response:
        wheel = response.read()
    if hashlib.sha256(wheel).hexdigest() != sha256:
        raise ValueError(f"{filename}: sha256 differs from the index's")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        binary = archive.read(f"uv-{version}.data/scripts/uv")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: two clones installing at once never see half a binary.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        partial.write(binary)
    os.chmod(partial.name, 0o755)
    os.replace(partial.name, target)


def main(argv: list[str]) -> int:
    """Print the cached uv binary's path, fetching it first when the cache lacks it."""
    (version,) = argv
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "camcloud"
    try:
        libc, arch, _ = platform_key()
        target = cache / f"uv-{version}-{libc}-{arch}" / "uv"
        if not os.access(target, os.X_OK):
            fetch(version, target)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        print(f"camcloud: no uv ({error})", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
