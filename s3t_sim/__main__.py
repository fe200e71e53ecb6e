import sys

from s3t_sim.cli import main

sys.exit(main())
