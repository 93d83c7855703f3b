"""Check a vindex folder: ``python -m vindex.verify PATH`` (exit 0 and a summary, or one error line and exit 2)."""

import argparse

from lab.config.errors import exit_on_user_error
from vindex.reader import verify


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vindex.verify", description=__doc__)
    parser.add_argument("path", help="a vindex folder")
    parser.add_argument("--no-checksums", action="store_true", help="skip SHA256SUMS (sizes and headers only)")
    args = parser.parse_args(argv)
    index = verify(args.path, checksums=not args.no_checksums)
    print(f"ok: {args.path}: {index['model']}, {index['num_layers']} layers x {index.get('num_feats')} features, "
          f"hidden {index['hidden_size']}, vocab {index['vocab_size']}")


if __name__ == "__main__":
    main()
