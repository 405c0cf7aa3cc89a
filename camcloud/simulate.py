"""A camera simulator speaking the device protocol: frames, capture ids, retries, telemetry."""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import urllib3
from PIL import Image, ImageDraw

# Statuses a camera retries: the server or the network was the problem, not the capture.
RETRYABLE = {429, 500, 502, 503, 504}


def make_frame(width: int, height: int, index: int, *, seed: int = 0, quality: int = 85) -> bytes:
    """A JPEG that looks enough like a photo (gradient, noise, shapes) to compress like one."""
    rng = random.Random(seed * 1_000_003 + index)
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40 + rng.randint(0, 30))
    red = Image.blend(gradient, noise, 0.35)
    green = gradient.rotate(90).resize((width, height))
    blue = noise
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randint(max(2, width // 40), max(3, width // 8))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    draw.text((8, 8), f"camcloud simulate #{index}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass
class SimulationResult:
    """What a simulated camera achieved."""

    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class CameraSimulator:
    """Uploads ``count`` frames to ``url`` with ``key``, retrying like the firmware does."""

    url: str
    key: str
    count: int = 10
    interval: float = 0.0
    width: int = 640
    height: int = 480
    retries: int = 5
    resend_probability: float = 0.0
    seed: int = 0
    device_id: str | None = None
    timeout: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    on_progress: Callable[[int, str], None] | None = None
    # Told before each wait between attempts: (capture id, retry number, seconds, reason).
    on_retry: Callable[[str, int, float, str], None] | None = None

    def run(self) -> SimulationResult:
        """Capture and upload every frame; returns the tally."""
        rng = random.Random(self.seed)
        boot = f"{rng.getrandbits(32):08x}"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=self.timeout), retries=False
        )
        result = SimulationResult()
        for index in range(self.count):
            frame = make_frame(self.width, self.height, index, seed=self.seed)
            capture_id = f"sim-{boot}-{index}"
            captured_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            outcome = self._upload(http, frame, capture_id, captured_at, result)
            # A lost response looks to the camera like a failure: it sends the capture again.
            if outcome in ("stored", "duplicate") and rng.random() < self.resend_probability:
                outcome = self._upload(http, frame, capture_id, captured_at, result, resend=True)
            if self.on_progress is not None:
                self.on_progress(index, outcome)
            if self.interval and index + 1 < self.count:
                self.sleep(self.interval)
        return result

    def _upload(
        self,
        http: urllib3.PoolManager,
        frame: bytes,
        capture_id: str,
        captured_at: str,
        result: SimulationResult,
        *,
        resend: bool = False,
    ) -> str:
        headers = self._headers(capture_id, captured_at)
        delay = 0.5
        for attempt in range(self.retries + 1):
            result.attempts += 1
            status, message, wait, outcome = _attempt(http, self.url, frame, headers, delay)
            if outcome is not None:
                # A resend of a capture already acknowledged is counted once: a 202 for it
                # (queued again while S3 is down) is not a second stored capture.
                if outcome == "duplicate" or resend:
                    result.duplicates += 1
                else:
                    result.stored += 1
                return outcome
            if status and status not in RETRYABLE:
                break
            if attempt < self.retries:
                if self.on_retry is not None:
                    reason = f"{status} {message}" if status else f"no response ({message})"
                    self.on_retry(capture_id, attempt + 1, wait, reason)
                self.sleep(wait)
                delay = min(delay * 2, 30.0)
        result.failed += 1
        result.errors.append(f"{capture_id}: {status or 'no response'} {message}")
        return "failed"

    def _headers(self, capture_id: str, captured_at: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "image/jpeg",
            "X-Capture-Id": capture_id,
            "X-Captured-At": captured_at,
            "X-Firmware": "camcloud-simulator/1",
            "X-RSSI": "-61",
            "X-Free-Heap": "182000",
            "X-Boot-Count": "1",
        }
        if self.device_id:
            headers["X-Device-Id"] = self.device_id
        return headers


def _attempt(
    http: urllib3.PoolManager, url: str, frame: bytes, headers: dict[str, str], delay: float
) -> tuple[int, str, float, str | None]:
    """One POST: (status or 0, message, seconds to wait before a retry, outcome if done)."""
    try:
        response = http.request("POST", url, body=frame, headers=headers)
    except urllib3.exceptions.HTTPError as exc:
        return 0, str(exc), delay, None
    status = response.status
    message = response.data[:200].decode("utf-8", "replace")
    wait = _retry_after(response.headers.get("Retry-After"), delay)
    if status == 201:
        return status, message, wait, "stored"
    if status == 200 and _json(response.data).get("duplicate"):
        return status, message, wait, "duplicate"
    if status == 202:
        return status, message, wait, "queued"
    return status, message, wait, None


def _json(data: bytes) -> dict[str, object]:
    try:
        document = json.loads(data)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, min(float(value), 300.0)) if value else default
    except ValueError:
        return default
