import sys

from genseq.cli import main

sys.exit(main())
