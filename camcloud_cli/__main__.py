"""``python -m camcloud_cli``: the camcloud command."""

from camcloud_cli import main

main()
