import sys

from .server import main

sys.exit(main(int(sys.argv[1])))
