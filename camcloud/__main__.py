"""``python -m camcloud``: the camcloud command."""

from camcloud.cli import main

main()
