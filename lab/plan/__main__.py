"""``python -m lab.plan [OVERRIDES]`` (``make plan ARGS=...``)."""

from lab.plan import main

if __name__ == "__main__":
    main()
