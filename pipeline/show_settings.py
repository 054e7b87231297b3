"""`python -m pipeline.show_settings`: every luigi.cfg section, option and default, as markdown."""
import sys

from pipeline.config import reference

if __name__ == "__main__":
    sys.stdout.write(reference())
