"""Export benchmark: peak memory of a streamed ZIP export at 10, 1,000 and 10,000 captures.

Each size runs in a fresh subprocess so that its RSS high-water mark (``ru_maxrss``) is its own.
The S3 client is a local fake that generates the listing pages and small JPEG originals on the
fly (moto would hold every original in the same process and measure itself); the export code,
the listing loop and the ZIP writer are the real ones. The archive is consumed as a download
would be: chunk by chunk, counted, and dropped; the smallest one is also checked with zipfile.

Goal (issue 17): memory stays flat from 10 to 10,000 captures (the ZIP central directory, the
one part of the format that grows with the member count, spills to a temporary file beyond
256 KiB).

    .venv/bin/python bench/export.py [--sizes 10,1000,10000] [--writer camcloud|zipfile]
"""

from __future__ import annotations

import argparse
import bisect
import io
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEVICE = "cam-1"
START_MS = 1_780_000_000_000
STEP_MS = 8_000  # one capture every 8 s: 10,000 captures span about 22 hours


class _Body:
    """A GetObject body that hands out its bytes in chunks, like botocore's StreamingBody."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        for start in range(0, len(self._data), chunk_size):
            yield self._data[start:start + chunk_size]


class _Keys:
    """The raw keys of ``count`` captures in S3 order (newest first), computed when read, so
    the fake holds no per-capture memory of its own."""

    def __init__(self, count: int) -> None:
        from camcloud.layout import CaptureRef

        self._count = count
        self._ref = CaptureRef

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> str:
        n = self._count - 1 - index
        return str(self._ref.new(DEVICE, START_MS + n * STEP_MS, f"c{n:06d}").raw_key)


class FakeS3:
    """ListObjectsV2 and GetObject over ``count`` generated captures of one camera."""

    def __init__(self, count: int, jpeg: bytes) -> None:
        self._keys = _Keys(count)
        self._jpeg = jpeg
        self.gets = 0

    def list_objects_v2(self, **params: Any) -> dict[str, Any]:
        assert params["Prefix"] == f"raw/{DEVICE}/"
        keys = self._keys
        if "ContinuationToken" in params:
            start = int(params["ContinuationToken"])
        else:
            start = bisect.bisect_right(keys, params.get("StartAfter", ""))
        end = min(len(keys), start + params.get("MaxKeys", 1000))
        answer: dict[str, Any] = {"Contents": [{"Key": keys[i]} for i in range(start, end)],
                                  "IsTruncated": end < len(keys)}
        if end < len(keys):
            answer["NextContinuationToken"] = str(end)
        return answer

    def get_object(self, **params: Any) -> dict[str, Any]:
        self.gets += 1
        return {"Body": _Body(self._jpeg)}


def small_jpeg() -> bytes:
    """A 320x240 JPEG of a few KiB."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 200)).save(out, "JPEG", quality=85)
    return out.getvalue()


class _Pipe(io.RawIOBase):
    """A non-seekable sink for the zipfile variant: written by zipfile, drained by the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zipfile_stream(client: Any, captures: Iterator[Any]) -> Iterator[bytes]:
    """The alternative that was measured and not chosen: the standard library's zipfile
    writing to a non-seekable stream (it keeps a ZipInfo per member, writes the central
    directory in one piece)."""
    import zipfile

    from camcloud.export import capture_file_name

    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as archive:
        for ref in captures:
            body = client.get_object(Bucket="bench", Key=ref.raw_key)["Body"]
            with archive.open(capture_file_name(ref), "w") as member:
                for chunk in body.iter_chunks(64 * 1024):
                    member.write(chunk)
            yield pipe.drain()
    yield pipe.drain()


def child(count: int, writer: str) -> dict[str, Any]:
    """Run one export in this process and report its memory."""
    import tracemalloc
    import zipfile

    from camcloud import export

    def stream(client: Any, until_ms: int) -> Iterator[bytes]:
        if writer == "zipfile":
            return zipfile_stream(client, export.iter_captures(client, "bench", DEVICE,
                                                               START_MS, until_ms))
        return export.export_zip(client, "bench", DEVICE, START_MS, until_ms)

    jpeg = small_jpeg()
    client = FakeS3(count, jpeg)
    # Warm up imports and allocator pools with a tiny export so the baseline is fair.
    for _ in stream(FakeS3(3, jpeg), START_MS + 10 * STEP_MS):
        pass
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    size = 0
    largest_chunk = 0
    keep = count <= 10
    kept = bytearray()
    for chunk in stream(client, START_MS + count * STEP_MS):
        size += len(chunk)
        largest_chunk = max(largest_chunk, len(chunk))
        if keep:
            kept += chunk
    elapsed = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if keep:
        with zipfile.ZipFile(io.BytesIO(bytes(kept))) as archive:
            assert archive.testzip() is None and len(archive.namelist()) == count
    return {"captures": count, "gets": client.gets, "archive_bytes": size,
            "largest_chunk": largest_chunk, "seconds": elapsed,
            "baseline_kib": baseline_kib, "peak_kib": peak_kib, "traced_peak": traced_peak}


def main() -> None:
    """Run every size in its own subprocess and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--writer", choices=["camcloud", "zipfile"], default="camcloud",
                        help="zipfile: the standard library variant, for comparison")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.writer)))
        return
    print(f"writer: {args.writer}")
    print(f"{'captures':>9} {'archive MiB':>12} {'RSS peak MiB':>13} {'RSS growth MiB':>15} "
          f"{'traced peak MiB':>16} {'largest chunk KiB':>18} {'captures/s':>11}")
    for size in (int(s) for s in args.sizes.split(",")):
        output = subprocess.run([sys.executable, __file__, "--child", str(size),
                                 "--writer", args.writer], check=True,
                                capture_output=True, text=True).stdout
        row = json.loads(output)
        print(f"{row['captures']:>9} {row['archive_bytes'] / 2**20:>12.1f} "
              f"{row['peak_kib'] / 1024:>13.1f} "
              f"{(row['peak_kib'] - row['baseline_kib']) / 1024:>15.1f} "
              f"{row['traced_peak'] / 2**20:>16.2f} {row['largest_chunk'] / 1024:>18.1f} "
              f"{row['captures'] / row['seconds']:>11.0f}")


if __name__ == "__main__":
    main()
