"""`python -m telnyx_edge`: the same program as the `telnyx-edge` console script."""

from telnyx_edge.cli.app import main

if __name__ == "__main__":
    main()
