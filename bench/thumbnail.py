"""Thumbnailer benchmark: camcloud's image work per capture vs ``vipsthumbnail``, side by side.

    .venv/bin/python bench/thumbnail.py [--reps 5] [--batch 10]

For each capture size it generates a photographic test JPEG (smooth light, edges, sensor
noise; quality 85, 4:2:0, as a camera writes it) and times, the same way for both tools:

- **camcloud**: a child Python process running ``camcloud.imaging.render`` (thumbnail +
  preview + record fields: EXIF subset and quality signals) on each file and writing the two
  JPEGs, exactly the image work the Lambda handler does per capture;
- **vipsthumbnail**: two invocations (``--size 1024>`` and ``--size 320>``: the same two sizes,
  never enlarging, same JPEG quality, progressive, metadata stripped) over the same files.

Both are timed as whole child processes on a batch of 1 and of 1 + ``--batch`` files; the
difference divided by ``--batch`` is the time per image with process start-up cancelled out
(vipsthumbnail pays its start-up twice per batch, Python once; neither is counted). The median
of ``--reps`` such pairs is printed. The ratio is against vipsthumbnail writing what camcloud
writes (progressive); a second column gives vipsthumbnail's default baseline JPEGs for
reference. Peak RSS is each tool's own ``ru_maxrss`` (see ``peak_rss_kib``).

Needs ``vipsthumbnail`` (Debian/Ubuntu: ``apt-get install libvips-tools``). Not a test: it
prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(2048, 1536), (1280, 720), (320, 320), (2592, 1944)]
GOAL_RATIO = 0.45
GOAL_RSS_MIB = 64


def photographic_jpeg(width: int, height: int, seed: int = 7) -> bytes:
    """A JPEG with what makes photos cost what they cost: gradients, edges, texture, noise."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    cells = (max(2, width // 48), max(2, height // 48))
    light = Image.effect_noise(cells, 70).resize((width, height), Image.Resampling.BICUBIC)
    ramp = Image.linear_gradient("L").resize((width, height))
    red = Image.blend(light, ramp, 0.45)
    green = Image.blend(light.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                        ramp.transpose(Image.Transpose.ROTATE_90).resize((width, height)), 0.5)
    blue = Image.blend(light.transpose(Image.Transpose.FLIP_TOP_BOTTOM), ramp, 0.3)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randint(max(2, width // 90), max(3, width // 9))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        else:
            draw.line((x, y, x + radius * 3, y + radius), fill=colour, width=max(1, radius // 6))
    image = image.filter(ImageFilter.GaussianBlur(1.0))
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, grain, 0.1)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def worker(outdir: str, files: list[str]) -> None:
    """Child process: render each file like the handler does and write its two JPEGs."""
    sys.path.insert(0, str(ROOT))
    from camcloud import imaging

    for index, name in enumerate(files):
        rendition = imaging.render(Path(name).read_bytes())
        Path(outdir, f"{index}_t.jpg").write_bytes(rendition.thumb)
        Path(outdir, f"{index}_p.jpg").write_bytes(rendition.preview)
        # The record's fields are part of the work: make sure they are really computed.
        assert rendition.width and rendition.quality and isinstance(rendition.exif, dict)


def run_child(argv: list[str]) -> tuple[float, float]:
    """Run ``argv`` to completion; return its wall-clock and CPU (user + sys) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {process.stderr.decode(errors='replace')[:500]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


# A child's ru_maxrss starts at its parent's RSS at fork (Linux keeps the high-water mark
# across exec), and this process holds the generated images. So both tools are started from a
# bare interpreter (about 8 MiB) that forks, execs the tool and reports the tool's own peak.
_TRAMPOLINE = """
import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def peak_rss_kib(argv: list[str]) -> int:
    """The peak RSS (KiB) of one run of ``argv``, measured by a bare trampoline process."""
    done = subprocess.run([sys.executable, "-S", "-c", _TRAMPOLINE, *argv],
                          capture_output=True, text=True, check=True)
    peak, code = (int(word) for word in done.stdout.split())
    if code != 0:
        raise SystemExit(f"{argv[0]} failed with exit code {code}")
    return peak


def python_argv(outdir: str, files: list[str]) -> list[str]:
    """Run this file's worker on ``files``."""
    return [sys.executable, __file__, "--worker", outdir, *files]


def python_runs(outdir: str, files: list[str]) -> list[list[str]]:
    """The one child process that renders ``files``."""
    return [python_argv(outdir, files)]


def vips_runs(outdir: str, files: list[str], progressive: bool = True) -> list[list[str]]:
    """The two vipsthumbnail invocations that make the preview and the thumbnail of ``files``."""
    from camcloud import imaging

    options = "interlace,strip" if progressive else "strip"
    runs = []
    for edge, quality, tag in ((imaging.PREVIEW_EDGE, imaging.PREVIEW_QUALITY, "p"),
                               (imaging.THUMB_EDGE, imaging.THUMB_QUALITY, "t")):
        runs.append(["vipsthumbnail", *files, "--size", f"{edge}>", "-o",
                     f"{outdir}/%s_{tag}.jpg[Q={quality},{options}]"])
    return runs


Runs = Callable[[str, list[str]], list[list[str]]]


def time_batch(make_runs: Runs, files: list[str], outdir: str) -> tuple[float, float]:
    """Wall and CPU seconds of every process in ``make_runs(outdir, files)``, one after another."""
    wall = cpu = 0.0
    for argv in make_runs(outdir, files):
        run_wall, run_cpu = run_child(argv)
        wall += run_wall
        cpu += run_cpu
    return wall, cpu


def per_image(make_runs: Runs, files: list[str], outdir: str) -> tuple[float, float]:
    """(T(batch of 1 + n) - T(batch of 1)) / n in ms, wall and CPU: start-up cancels out."""
    small_wall, small_cpu = time_batch(make_runs, files[:1], outdir)
    big_wall, big_cpu = time_batch(make_runs, files, outdir)
    extra = len(files) - 1
    return (big_wall - small_wall) / extra * 1000, (big_cpu - small_cpu) / extra * 1000


def side_by_side(tools: dict[str, Runs], files: list[str], outdir: str,
                 reps: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU ms per image of each tool, the tools interleaved within every rep
    so that load from other processes falls on all of them alike."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
    for _ in range(reps):
        for name, make_runs in tools.items():
            samples[name].append(per_image(make_runs, files, outdir))
    return {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in samples.items()
    }


def main() -> None:
    """Generate the images, time both tools side by side, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1:])
        return
    sys.path.insert(0, str(ROOT))
    if shutil.which("vipsthumbnail") is None:
        raise SystemExit("vipsthumbnail not found: apt-get install libvips-tools")
    vips_version = subprocess.run(["vipsthumbnail", "--vips-version"], capture_output=True,
                                  text=True, check=False).stdout.strip()
    from PIL import Image, features

    print(f"camcloud imaging (Pillow {Image.__version__}, libjpeg-turbo "
          f"{features.version('libjpeg_turbo')}) vs vipsthumbnail ({vips_version}); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; per image = median of "
          f"{args.reps} x (batch of {args.batch + 1} - batch of 1) / {args.batch}")
    with tempfile.TemporaryDirectory(prefix="camcloud-bench-") as tmp:
        baseline_kib = peak_rss_kib(python_argv(tmp, []))
        print(f"{'':>16} | {'wall ms per image':^22} | {'CPU ms per image':^22} |"
              f" {'vs vips baseline':^15} | {'peak RSS MiB':^14}")
        header = (f"{'capture':>10} {'KiB':>5} | {'camcloud':>8} {'vips':>6} {'ratio':>6} |"
                  f" {'camcloud':>8} {'vips':>6} {'ratio':>6} | {'wall':>7} {'CPU':>7} |"
                  f" {'camcloud':>8} {'vips':>5}")
        print(header)
        print("-" * len(header))
        tools: dict[str, Runs] = {
            "camcloud": python_runs,
            "vips": vips_runs,
            "vips-baseline": functools.partial(vips_runs, progressive=False),
        }
        rows = []
        for width, height in SIZES:
            name = f"{width}x{height}"
            folder = Path(tmp, name)
            outdir = Path(tmp, name + "-out")
            folder.mkdir()
            outdir.mkdir()
            data = photographic_jpeg(width, height)
            files = []
            for index in range(args.batch + 1):
                path = folder / f"{index}.jpg"
                path.write_bytes(data)
                files.append(str(path))
            timed = side_by_side(tools, files, str(outdir), args.reps)
            (ours, ours_cpu), (theirs, theirs_cpu) = timed["camcloud"], timed["vips"]
            base, base_cpu = timed["vips-baseline"]
            rss = peak_rss_kib(python_argv(str(outdir), files[:2])) / 1024
            vips_rss = max(peak_rss_kib(argv) for argv in vips_runs(str(outdir), files[:2])) / 1024
            print(f"{name:>10} {len(data) // 1024:>5} | {ours:>8.1f} {theirs:>6.1f}"
                  f" {ours / theirs:>5.2f}x | {ours_cpu:>8.1f} {theirs_cpu:>6.1f}"
                  f" {ours_cpu / theirs_cpu:>5.2f}x | {ours / base:>6.2f}x"
                  f" {ours_cpu / base_cpu:>6.2f}x | {rss:>8.1f} {vips_rss:>5.1f}", flush=True)
            rows.append((name, ours / theirs, ours_cpu / theirs_cpu, rss))
        print(f"(the Python child rendering nothing peaks at {baseline_kib / 1024:.1f} MiB; "
              f"load average now {os.getloadavg()[0]:.1f})")
        for label, column in (("wall", 1), ("CPU", 2)):
            main_ratio = next(row[column] for row in rows if row[0] == "2048x1536")
            slower = ", ".join(row[0] for row in rows if row[column] > 1) or "none"
            print(f"goal ({label}): <= {GOAL_RATIO}x vipsthumbnail at 2048x1536 -> "
                  f"{main_ratio:.2f}x ({'met' if main_ratio <= GOAL_RATIO else 'NOT met'}); "
                  f"sizes slower than vipsthumbnail: {slower}")
        worst_rss = max(row[3] for row in rows)
        print(f"goal: peak RSS < {GOAL_RSS_MIB} MiB -> {worst_rss:.1f} MiB "
              f"({'met' if worst_rss < GOAL_RSS_MIB else 'NOT met'})")


if __name__ == "__main__":
    main()
