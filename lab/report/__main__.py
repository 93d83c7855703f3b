"""``python -m lab.report FOLDER [--out DIR]`` (``make report RUN=FOLDER``)."""

import argparse

from lab.config.errors import exit_on_user_error
from lab.report import write_report


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.report", description=__doc__)
    parser.add_argument("folder", help="an ablation run or sweep folder, a gate run folder or a vindex folder")
    parser.add_argument("--out", help="where to write (default: FOLDER/report)")
    args = parser.parse_args(argv)
    print(f"wrote {write_report(args.folder, args.out)}")


if __name__ == "__main__":
    main()
