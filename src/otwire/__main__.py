"""``python -m otwire``: the ``otwire`` command line (:mod:`otwire.cli`)."""

from __future__ import annotations

import sys

from otwire.cli import main

if __name__ == "__main__":
    sys.exit(main())
