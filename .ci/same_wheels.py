"""Fail unless two wheels hold the same files with the same bytes.

``python -m build`` makes the wheel from the sdist; a wheel built straight
from the checkout must not differ from it (a file the sdist leaves out would
be missing from one of them). RECORD is compared too: it lists every file's
hash, so equal RECORDs mean equal contents.
"""

from __future__ import annotations

import sys
import zipfile


def contents(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as wheel:
        return {name: wheel.read(name) for name in wheel.namelist()}


def main(first: str, second: str) -> int:
    a, b = contents(first), contents(second)
    differ = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
    if differ:
        print(f"{first} and {second} differ in:", *differ, sep="\n  ")
        return 1
    print(f"the same {len(a)} files in both wheels")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
