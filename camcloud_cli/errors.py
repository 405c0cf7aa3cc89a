"""One-line errors for the new commands: the services' refusals become ``click`` errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from camcloud.devices import DeviceError
from camcloud.errors import Refusal
from camcloud.export import ExportError
from camcloud.layout import LayoutError


def one_line(text: str) -> str:
    """``text`` on one line (a refusal's message may quote a multi-line value)."""
    return " ".join(str(text).split())


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service's refusal (``Refusal``, bad ids, dates, keys) into a one-line CLI error."""
    try:
        yield
    except Refusal as refusal:
        raise click.ClickException(one_line(refusal.message)) from None
    except (DeviceError, LayoutError, ExportError) as exc:
        raise click.ClickException(one_line(str(exc))) from None
    except Exception as exc:
        # camcloud.notify (Apprise) loads only for the alerts commands: its error by name.
        if type(exc).__name__ == "TargetKeyError":
            raise click.ClickException(one_line(str(exc))) from None
        raise
