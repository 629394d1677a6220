"""Tools from Debian's packages that some tests need and CI installs (``.ci/run``).

Where one is missing the test skips with the install hint, except under CI (env ``CI`` set, as
``.ci/run`` sets it), where it fails: CI can never pass by skipping.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(hint: str) -> NoReturn:
    """Skip the calling test with ``hint``, or fail it under CI."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(hint)
    pytest.skip(hint)
