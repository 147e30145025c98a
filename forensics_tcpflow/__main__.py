"""`python -m forensics_tcpflow` and the console script."""

import gc
import os
import sys

from .helpstore import stored_help


def run() -> None:
    text = stored_help(sys.argv[1:])
    if text is not None:        # a bare --help: no need to load the CLI (see helpstore)
        sys.stdout.write(text)
        sys.exit(0)
    from .cli import main
    from .exitstatus import ExitStatus
    status = main()
    gc.freeze()       # the interpreter's last collection would walk every object left, for nothing
    if status == ExitStatus.STDOUT_CLOSED:     # nothing more reaches the reader: no complaint at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


if __name__ == "__main__":
    run()
