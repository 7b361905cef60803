"""`python -m selfattn.ring`: the demo of `selfattn.ring.cli`."""

import sys

from selfattn.ring.cli import main

if __name__ == "__main__":
    main(sys.argv[1:])
