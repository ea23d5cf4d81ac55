"""Takes 3 s to import (what hundreds of modules take under load)."""
import time

time.sleep(3.0)
