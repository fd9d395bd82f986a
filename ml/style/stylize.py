"""Old name of ``python -m ml.style.predict``, kept so scripts written for it still run (same
arguments); see docs/command-line.md."""

import runpy
import sys

if __name__ == "__main__":
    print("note: python -m ml.style.stylize is now python -m ml.style.predict", file=sys.stderr)
    runpy.run_module("ml.style.predict", run_name="__main__", alter_sys=True)
