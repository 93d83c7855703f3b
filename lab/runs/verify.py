"""Check artifact folders against their ``SHA256SUMS``: ``python -m lab.runs.verify PATH [PATH ...]``.

Works on any folder this suite writes (ablation stages, gate runs, applied gate models, vindexes); a folder
whose kind (:mod:`lab.runs.folder_kinds`) has checks of its own also gets them (a vindex: its sizes and headers). Prints one ``ok:`` line per folder, or one ``error:``
line naming the first bad file and exits with code 2.
"""

import argparse
from pathlib import Path

from lab.config.errors import UserError, exit_on_user_error
from lab.runs.checksums import check_sha256sums
from lab.runs.folder_kinds import kind_of


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.runs.verify", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="artifact folders")
    for path in (Path(p) for p in parser.parse_args(argv).paths):
        if not path.is_dir():
            raise UserError(f"{path} is not a folder")
        count = check_sha256sums(path)
        kind = kind_of(path)
        if kind is not None and kind.verify is not None:  # e.g. a vindex's sizes and headers
            kind.verify(path)
        print(f"ok: {path} ({count} files)")


if __name__ == "__main__":
    main()
