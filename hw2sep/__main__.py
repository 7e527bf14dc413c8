"""``python -m hw2sep NAME [ARGS]``: the package's commands (see ``hw2sep.cli.COMMANDS``)."""

import sys

from hw2sep.cli import dispatch

sys.exit(dispatch())
