"""Old name of ``python -m ml.fast_style.train``, kept so scripts written for it still run (same
arguments); see docs/command-line.md."""

import runpy
import sys

if __name__ == "__main__":
    print("note: python -m ml.style.fast_train is now python -m ml.fast_style.train", file=sys.stderr)
    runpy.run_module("ml.fast_style.train", run_name="__main__", alter_sys=True)
