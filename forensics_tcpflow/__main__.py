"""`python -m forensics_tcpflow` and the console script."""

import sys

from .allocator import tune
from .cli import main


def run() -> None:
    tune()
    sys.exit(main())


if __name__ == "__main__":
    run()
