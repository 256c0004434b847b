"""``python -m conformance``.

``-m`` puts the current directory first on the import path; run from a project's source root,
a file there named like a module this tool imports (``typing.py``, ``queue.py``) would be
imported and run. The analysed code is never run, so that entry is removed first.
"""

import os
import sys

sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]

from conformance.cli import run  # noqa: E402

run()
