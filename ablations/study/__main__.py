"""``python -m ablations.study SWEEP_FOLDER``: :func:`ablations.study.analysis.main`."""

from ablations.study.analysis import main

if __name__ == "__main__":
    main()
