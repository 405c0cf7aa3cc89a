"""Alert targets (Apprise URLs) and their delivery.

A target is an Apprise URL (``mailto://``, ``ntfy://``, ``tgram://``, ``discord://``,
``json://``, ...). URLs carry secrets (tokens, passwords), so :class:`TargetStore` keeps them in
``alerts/targets.json`` encrypted with Fernet under a key that never sits in the bucket: it comes
from a setting or an SSM SecureString parameter (:func:`key_from_ssm`). Listing shows a redacted
label (scheme and host, secrets masked), never the URL.

:class:`Notifier` delivers a batch of :class:`~camcloud.alerts.Outgoing` messages: each target in
its own thread, each message retried with exponential backoff, a failing target reported with
its reason and never holding up the others.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

with warnings.catch_warnings():
    # Apprise's e-mail plugin (PGP support) imports the standard library's imghdr, deprecated
    # in 3.11 and gone in 3.13 (where Apprise installs a shim): import it once, quietly, so
    # that warnings-as-errors runs are not broken by a library we do not control.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import imghdr  # noqa: F401
    except ImportError:
        pass

import apprise
from botocore.exceptions import ClientError
from cryptography.fernet import Fernet, InvalidToken

from camcloud import s3
from camcloud.alerts import (
    DeliveryReport,
    Outgoing,
    TargetRule,
    check_timezone,
    parse_quiet_hours,
)
from camcloud.errors import Refusal

TARGETS_KEY = "alerts/targets.json"
MAX_TARGETS = 20
MAX_URL = 2000
_SEVERITY = {
    "failure": apprise.NotifyType.FAILURE,
    "success": apprise.NotifyType.SUCCESS,
    "info": apprise.NotifyType.INFO,
}


class TargetKeyError(Exception):
    """The encryption key is missing, malformed, or not the one the targets were stored with."""


def new_key() -> str:
    """A fresh Fernet key for ``CAMCLOUD_ALERTS_KEY`` or an SSM SecureString parameter."""
    return Fernet.generate_key().decode()


def key_from_ssm(ssm: Any, name: str) -> str:
    """The Fernet key kept in the SSM parameter ``name`` (a SecureString, decrypted)."""
    response = ssm.get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


def _fernet(key: str | bytes) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise TargetKeyError(
            "the alerts key is not a Fernet key (32 url-safe base64 bytes); make one with "
            "camcloud.notify.new_key()"
        ) from None


def redact(url: str) -> str:
    """``scheme://host/…`` with credentials masked: what a list may show of a target URL."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        private = url
    else:
        private = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    parts = urlsplit(private)
    host = parts.netloc.rpartition("@")[2]
    user = "****@" if "@" in parts.netloc else ""
    more = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{user}{host}{more}"


def validate_url(url: str) -> str:
    """Return ``url`` stripped if Apprise understands it, else refuse it (400)."""
    if not isinstance(url, str) or not url.strip():
        raise Refusal(400, "bad_target", "give an Apprise URL, e.g. ntfy://ntfy.sh/my-topic")
    url = url.strip()
    if len(url) > MAX_URL:
        raise Refusal(400, "bad_target", f"the URL is longer than {MAX_URL} characters")
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        link_local = ipaddress.ip_address(host).is_link_local
    except ValueError:
        link_local = False
    if link_local or host in {"fd00:ec2::254", "instance-data", "instance-data.ec2.internal"}:
        # The instance metadata service answers there: a target must never reach it.
        raise Refusal(400, "bad_target", "link-local and instance metadata addresses are refused")
    if apprise.Apprise.instantiate(url) is None:
        scheme = url.partition("://")[0][:20]
        raise Refusal(400, "bad_target",
                      f"Apprise does not understand this URL (scheme {scheme!r}); see "
                      "https://github.com/caronc/apprise/wiki for the supported services")
    return url


@dataclass(frozen=True)
class Target:
    """A delivery target as shown to people: never its URL."""

    id: str
    label: str
    quiet_hours: str | None
    timezone: str
    created_at: int

    @property
    def rule(self) -> TargetRule:
        """What the alert check needs of this target."""
        return TargetRule(self.id, self.quiet_hours, self.timezone)


class TargetStore:
    """The targets in ``alerts/targets.json``, their URLs encrypted with ``key``."""

    def __init__(self, client: Any, bucket: str, key: str | bytes | None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._clock = clock

    def _load(self) -> tuple[list[dict[str, Any]], str | None]:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=TARGETS_KEY)
        except ClientError as exc:
            if s3.is_missing(exc):
                return [], None
            raise
        document = json.loads(response["Body"].read())
        return list(document.get("targets", [])), str(response["ETag"])

    def _save(self, targets: list[dict[str, Any]], etag: str | None) -> None:
        body = json.dumps({"schema": 1, "targets": targets}, sort_keys=True).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self._client.put_object(Bucket=self._bucket, Key=TARGETS_KEY, Body=body,
                                    ContentType="application/json", **condition)
        except ClientError as exc:
            if s3.error_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict",
                                      "412", "409"}:
                raise Refusal(409, "busy", "the targets changed meanwhile; try again") from None
            raise

    def add_target(
        self, url: str, *, quiet_hours: str | None = None, timezone: str = "UTC"
    ) -> Target:
        """Validate and store a target; return it as listed."""
        url = validate_url(url)
        try:
            if quiet_hours:
                parse_quiet_hours(quiet_hours)
            check_timezone(timezone)
        except ValueError as exc:
            raise Refusal(400, "bad_target", str(exc)) from None
        if self._key is None:
            raise TargetKeyError("no alerts key is configured (CAMCLOUD_ALERTS_KEY or an SSM "
                                 "parameter): target URLs are only ever stored encrypted")
        secret = _fernet(self._key).encrypt(url.encode()).decode()
        targets, etag = self._load()
        if len(targets) >= MAX_TARGETS:
            raise Refusal(400, "too_many_targets", f"at most {MAX_TARGETS} targets")
        record = {"id": secrets.token_hex(6), "label": redact(url), "secret": secret,
                  "quiet_hours": quiet_hours or None, "timezone": timezone,
                  "created_at": int(self._clock() * 1000)}
        self._save(targets + [record], etag)
        return self._view(record)

    @staticmethod
    def _view(record: Mapping[str, Any]) -> Target:
        return Target(id=record["id"], label=record["label"], quiet_hours=record["quiet_hours"],
                      timezone=record["timezone"], created_at=record["created_at"])

    def list_targets(self) -> list[Target]:
        """Every target, redacted, oldest first."""
        return [self._view(record) for record in self._load()[0]]

    def rules(self) -> list[TargetRule]:
        """Every target's id and quiet hours, for :func:`camcloud.alerts.check`."""
        return [target.rule for target in self.list_targets()]

    def remove_target(self, target_id: str) -> bool:
        """Delete a target; False if there was none with that id."""
        targets, etag = self._load()
        kept = [record for record in targets if record["id"] != target_id]
        if len(kept) == len(targets):
            return False
        self._save(kept, etag)
        return True

    def urls(self) -> dict[str, str]:
        """Every target's URL, decrypted: for delivery only, never to be shown."""
        records = self._load()[0]
        if not records:
            return {}
        if self._key is None:
            raise TargetKeyError("no alerts key is configured: the target URLs cannot be read")
        fernet = _fernet(self._key)
        found = {}
        for record in records:
            try:
                found[record["id"]] = fernet.decrypt(record["secret"].encode()).decode()
            except InvalidToken:
                raise TargetKeyError(
                    f"target {record['id']} was stored with another key; remove and re-add it"
                ) from None
        return found


class _Reasons(logging.Handler):
    """Collects what Apprise logs as warnings and errors, per thread, as the failure reason."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        lines: list[str] = []
        self._local.lines = lines
        try:
            yield lines
        finally:
            self._local.lines = None


_REASONS = _Reasons()
# Apprise logs through the "apprise" logger (apprise.logger.LOGGER_NAME).
logging.getLogger("apprise").addHandler(_REASONS)


class DeliveryError(Exception):
    """A target did not take a message; the text is the reason shown to the owner."""


Sender = Callable[[Outgoing], None]
# The id of the stack's SNS topic as a target (AWS: e-mail subscriptions made by the template).
SNS_TARGET = "aws-sns"


def apprise_sender(url: str) -> Sender:
    """Send through the Apprise URL ``url``; raise DeliveryError with Apprise's reason."""

    def send(message: Outgoing) -> None:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise DeliveryError("Apprise no longer understands this URL")
        with _REASONS.collect() as lines:
            ok = plugin.notify(body=message.body or message.title, title=message.title,
                               notify_type=_SEVERITY.get(message.severity,
                                                         apprise.NotifyType.INFO))
        if not ok:
            raise DeliveryError("; ".join(lines[-2:]) or "the service refused the message")

    return send


def sns_sender(sns: Any, topic_arn: str) -> Sender:
    """Publish to an SNS topic (its subject: printable ASCII, at most 100 characters)."""

    def send(message: Outgoing) -> None:
        subject = "".join(ch for ch in message.title if " " <= ch <= "~")[:100] or "camcloud"
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message.body or message.title)

    return send


class Notifier:
    """Delivers messages to the targets' Apprise URLs (and optionally an SNS topic), with
    retries and exponential backoff."""

    def __init__(
        self,
        urls: Callable[[], Mapping[str, str]],
        *,
        sns: Any = None,
        sns_topic: str | None = None,
        attempts: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
    ) -> None:
        self._urls = urls
        self._sns = sns_sender(sns, sns_topic) if sns is not None and sns_topic else None
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._max_workers = max_workers

    def _senders(self) -> dict[str, Sender]:
        senders = {target_id: apprise_sender(url) for target_id, url in self._urls().items()}
        if self._sns is not None:
            senders[SNS_TARGET] = self._sns
        return senders

    def _send_one(self, send: Sender, message: Outgoing) -> DeliveryReport:
        reason = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff * 2 ** (attempt - 2))
            try:
                send(message)
            except Exception as exc:  # a plugin or SDK error must not stop the other targets
                reason = str(exc) if isinstance(exc, DeliveryError) else (
                    f"{type(exc).__name__}: {exc}")
                continue
            return DeliveryReport(message.target_id, message.message_ids, True, "", attempt)
        return DeliveryReport(message.target_id, message.message_ids, False, reason,
                              self._attempts)

    def _send_target(self, send: Sender | None,
                     messages: list[Outgoing]) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        for message in messages:
            if send is None:
                reports.append(DeliveryReport(message.target_id, message.message_ids, False,
                                              "no such target (removed?)", 1))
                continue
            report = self._send_one(send, message)
            reports.append(report)
            if not report.ok:
                # The rest would fail the same way; they stay queued for the next check.
                for rest in messages[len(reports):]:
                    reports.append(DeliveryReport(rest.target_id, rest.message_ids, False,
                                                  f"skipped: {report.reason}", 0))
                break
        return reports

    def deliver(self, batch: list[Outgoing]) -> list[DeliveryReport]:
        """Send every message; one report per message, targets in parallel."""
        if not batch:
            return []
        senders = self._senders()
        by_target: dict[str, list[Outgoing]] = {}
        for message in batch:
            by_target.setdefault(message.target_id, []).append(message)
        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(by_target))) as pool:
            futures = [pool.submit(self._send_target, senders.get(target_id), messages)
                       for target_id, messages in by_target.items()]
            return [report for future in futures for report in future.result()]

    def send_test(self, target_id: str) -> DeliveryReport:
        """Send a test message to one target (the settings page's "send a test" button)."""
        message = Outgoing(target_id, "camcloud test",
                           "This is a test message from camcloud: alerts will arrive here.",
                           "info", ("test",))
        return self.deliver([message])[0]
