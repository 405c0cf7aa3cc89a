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


class OneLineCommand(click.Command):
    """A command whose usage errors (a bad option value, a missing one) are one line too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as click does; a usage error becomes ``Error: <what>`` without the usage."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(one_line(exc.format_message())) from None

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a usage error it raises is one line as well."""
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise click.ClickException(one_line(exc.format_message())) from None


class OneLineGroup(click.Group):
    """A group whose commands are :class:`OneLineCommand` (and whose subgroups are too)."""

    command_class = OneLineCommand
    group_class = type
