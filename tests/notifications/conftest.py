"""The workflow tests' cast and headers, for the notification tests too."""

from tests.workflow.conftest import cast, headers  # noqa: F401
