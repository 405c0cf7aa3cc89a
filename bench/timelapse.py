"""Time-lapse builder against the ffmpeg command line: frames/s and peak memory, side by side.

Both encode the same 640x480 JPEG previews with the same settings (libx264, CRF 23, preset
veryfast, yuv420p, 30 fps, +faststart). The builder runs its whole path (list, records, previews
through the bounded GET pool, decode, encode, upload) against a directory-backed stand-in for
the S3 client, so that 10,000 frames fit on disk (distinct frames hard-linked many times) and no
in-memory S3 inflates the builder's RSS. Each run is its own process; its peak RSS is
``ru_maxrss`` of that child.

    .venv/bin/python bench/timelapse.py [--sizes 100,1000,10000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import bisect
import io
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICE = "bench-cam"
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
DISTINCT = 240
WIDTH, HEIGHT = 640, 480
CRF, PRESET, FPS = 23, "veryfast", 30


class SortedNames:
    """File names in sorted order, packed in one string (S3 keeps its listing on its side; here
    it shares the builder's process, so it should weigh as little as possible there)."""

    def __init__(self, names: list[str]) -> None:
        self._blob = "".join(names)
        self._ends = array("I", itertools.accumulate(len(n) for n in names))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        return self._blob[self._ends[index - 1] if index else 0:self._ends[index]]


class DirectoryClient:
    """The few S3 calls the builder makes, answered from a directory (keys are paths)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names: dict[str, SortedNames] = {}

    def list_objects_v2(self, *, Bucket: str, Prefix: str, MaxKeys: int = 1000,  # noqa: N803
                        StartAfter: str = "") -> dict[str, Any]:
        """ListObjectsV2 over the files under ``Prefix`` (one directory level: enough here)."""
        # Read the directory once and answer pages of it, as S3 does: a listing that rebuilt
        # 10,000 names per page would charge its garbage to the builder's peak memory.
        if Prefix not in self._names:
            directory = self.root / Prefix
            self._names[Prefix] = SortedNames(sorted(os.listdir(directory))
                                              if directory.is_dir() else [])
        names = self._names[Prefix]
        first = bisect.bisect_right(names, StartAfter[len(Prefix):]) if StartAfter else 0
        page = range(first, min(first + MaxKeys, len(names)))
        return {"Contents": [{"Key": Prefix + names[i]} for i in page],
                "IsTruncated": first + MaxKeys < len(names)}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        """GetObject: the file's bytes, NoSuchKey if there is none."""
        from botocore.exceptions import ClientError

        try:
            return {"Body": io.BytesIO((self.root / Key).read_bytes())}
        except FileNotFoundError:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject") from None

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        """PutObject: write the file."""
        path = self.root / Key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)

    def upload_file(self, filename: str, bucket: str, key: str, **_: Any) -> None:
        """upload_file: copy the file."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(filename, path)


def prepare(root: Path, count: int) -> Path:
    """``count`` previews and records of one camera (DISTINCT frames hard-linked); the frames'
    directory."""
    from camcloud.layout import CaptureRef
    from camcloud.simulate import make_frame

    pool = root / "distinct"
    pool.mkdir(exist_ok=True)
    for i in range(DISTINCT):
        path = pool / f"{i:04d}.jpg"
        if not path.exists():
            path.write_bytes(make_frame(WIDTH, HEIGHT, i, seed=7))
    previews = root / "previews" / DEVICE
    shutil.rmtree(previews, ignore_errors=True)
    shutil.rmtree(root / "meta", ignore_errors=True)
    previews.mkdir(parents=True)
    (root / "meta").mkdir()
    for i in range(count):
        ref = CaptureRef.new(DEVICE, int((START + timedelta(seconds=5 * i)).timestamp() * 1000),
                             f"f{i}")
        os.link(pool / f"{i % DISTINCT:04d}.jpg", root / ref.preview_key)
        record = {"status": "ok", "sha256": f"{i:064x}",
                  "quality": {"brightness": 120.0, "dark": False}}
        (root / ref.meta_key).write_text(json.dumps(record))
    return previews


def child_builder(root: str, count: int) -> dict[str, Any]:
    """Build the time-lapse of the prepared frames; seconds and peak RSS of this process."""
    from camcloud.timelapse import Options, build_timelapse

    client = DirectoryClient(Path(root))
    options = Options(fps=FPS, crf=CRF, preset=PRESET, max_seconds=None, deflicker=False)
    started = time.perf_counter()
    result = build_timelapse(client, "bench", DEVICE, START,
                             START + timedelta(seconds=5 * count), options,
                             clock=lambda: START, tmp_dir=root)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "frames": result.frames_used,
            "bytes": result.sidecar["bytes"], "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mib": usage.ru_maxrss / 1024}


def run_ffmpeg(frames: Path, out: Path) -> dict[str, Any]:
    """The ffmpeg command line on the same frames; seconds and its peak RSS."""
    command = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-framerate", str(FPS),
               "-pattern_type", "glob", "-i", str(frames / "*.jpg"), "-c:v", "libx264",
               "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
               "-movflags", "+faststart", str(out)]
    # A wrapper process per run, so RUSAGE_CHILDREN holds this ffmpeg's peak only.
    wrapper = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True); s = time.perf_counter() - t; "
               "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(json.dumps({'seconds': s, 'cpu': u.ru_utime + u.ru_stime, "
               "'rss_mib': u.ru_maxrss / 1024}))")
    done = subprocess.run([sys.executable, "-c", wrapper, *command], check=True,
                          capture_output=True, text=True)
    figures = dict(json.loads(done.stdout))
    figures["bytes"] = out.stat().st_size
    return figures


def run_builder(root: Path, count: int) -> dict[str, Any]:
    """The builder in a fresh interpreter."""
    done = subprocess.run([sys.executable, __file__, "--child", str(root), str(count)],
                          check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.splitlines()[-1]))


def main() -> None:
    """Prepare, run both side by side for each size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--builder-only", action="store_true",
                        help="run the builder alone (its memory and speed across sizes)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_builder(args.child[0], int(args.child[1]))))
        return
    if not shutil.which("ffmpeg"):
        sys.exit("bench/timelapse.py needs the ffmpeg command line: apt-get install ffmpeg")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{WIDTH}x{HEIGHT} JPEG previews, libx264 crf {CRF} preset {PRESET} yuv420p {FPS} fps "
          f"+faststart; {os.cpu_count()} CPUs; best of {args.repeat}")
    # Wall-clock frames/s is the goal; CPU ms per frame (user + sys, all threads) is the same
    # comparison made robust to other load on the machine.
    print(f"{'frames':>7} {'ffmpeg f/s':>10} {'builder f/s':>11} {'ratio':>6} "
          f"{'ffmpeg cpu ms/f':>15} {'builder cpu ms/f':>16} "
          f"{'ffmpeg MiB':>10} {'builder MiB':>11} {'ffmpeg MB':>9} {'builder MB':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-timelapse-") as workdir:
        root = Path(workdir)
        for count in sizes:
            frames = prepare(root, count)
            ffmpeg: dict[str, Any] = {}
            builder: dict[str, Any] = {}
            for _ in range(args.repeat):
                # Alternate the two so that neither always runs on a warmer machine.
                f = ({"seconds": float("nan"), "cpu": float("nan"), "rss_mib": float("nan"),
                      "bytes": 0} if args.builder_only
                     else run_ffmpeg(frames, root / "ffmpeg.mp4"))
                b = run_builder(root, count)
                assert b["frames"] == count, b
                ffmpeg = min(ffmpeg, f, key=lambda r: r.get("seconds", 1e9)) if ffmpeg else f
                builder = min(builder, b, key=lambda r: r.get("seconds", 1e9)) if builder else b
            f_fps, b_fps = count / ffmpeg["seconds"], count / builder["seconds"]
            print(f"{count:>7} {f_fps:>10.1f} {b_fps:>11.1f} {b_fps / f_fps:>5.2f}x "
                  f"{ffmpeg['cpu'] * 1000 / count:>15.1f} {builder['cpu'] * 1000 / count:>16.1f} "
                  f"{ffmpeg['rss_mib']:>10.1f} {builder['rss_mib']:>11.1f} "
                  f"{ffmpeg['bytes'] / 1e6:>9.2f} {builder['bytes'] / 1e6:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
