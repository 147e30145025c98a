"""`python -m forensics_tcpflow` and the console script."""

import os
import sys

from .cli import main
from .exitstatus import ExitStatus


def run() -> None:
    status = main()
    if status == ExitStatus.STDOUT_CLOSED:     # nothing more reaches the reader: no complaint at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


if __name__ == "__main__":
    run()
