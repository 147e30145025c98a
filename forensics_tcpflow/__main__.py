"""`python -m forensics_tcpflow` and the console script."""

import gc
import sys

from .cli import main


def run() -> None:
    status = main()
    gc.freeze()       # the interpreter's last collection would walk every object left, for nothing
    sys.exit(status)


if __name__ == "__main__":
    run()
