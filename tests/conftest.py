"""Test-session settings: the CLI's compilation cache goes to a temporary folder, so the
suite never writes into the user's ``~/.cache/driftsim`` (tests that check the cache set
their own folder)."""

import os
import tempfile

os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="driftsim-test-cache-")
