"""The coverage tests' world (known rows) and their fresh-cache guard serve the OGC tests too."""

from tests.coverage.conftest import _fresh_coverage_cache, world  # noqa: F401
