"""The one mapping from error codes to exit codes: complete, and the classes scripts rely on."""

from __future__ import annotations

from healthledger.cli.output import EXIT_CODES, exit_code_for
from healthledger.errors import ErrorCode


def test_every_error_code_has_an_exit_code() -> None:
    """A new ErrorCode without an exit code fails here, not as a KeyError in a user's shell."""
    assert set(EXIT_CODES) == set(ErrorCode)
    assert set(EXIT_CODES.values()) <= {1, 2, 3, 4, 5, 6}


def test_exit_codes_keep_their_classes() -> None:
    assert exit_code_for(ErrorCode.TAMPERED) == 1
    assert exit_code_for(ErrorCode.MALFORMED) == 2
    # A route an older node lacks is "not there", as its bare not_found said before.
    assert exit_code_for(ErrorCode.NO_ROUTE) == exit_code_for(ErrorCode.NOT_FOUND) == 3
    assert exit_code_for(ErrorCode.UNAUTHORIZED) == 4
    # A node's own fault: try again later, as an unreachable node.
    assert exit_code_for(ErrorCode.INTERNAL) == exit_code_for(ErrorCode.UNAVAILABLE) == 5
    assert exit_code_for(ErrorCode.RULES_VERSION) == 6
