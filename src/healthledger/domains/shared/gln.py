"""Global Location Numbers (GLN): the GS1 key of a party or a location.

A GLN is 13 digits, the last a GS1 mod-10 check digit (GS1 General Specifications:
AI (414) for a location, AI (417) for a party, the check digit in §7.9.1). Governance
registers which organisation holds which GLN; the supply domain reads EPCIS parties and
locations through it. Pure functions, no I/O.
"""

from __future__ import annotations

import re

GLN_LENGTH = 13
_DIGITS = re.compile(r"[0-9]+")


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of a key body (GenSpecs §7.9.1: weights 3, 1, 3, ...
    from the rightmost digit of the body)."""
    total = sum(int(digit) * (3 - 2 * (i % 2)) for i, digit in enumerate(reversed(body)))
    return -total % 10


def with_check_digit(body: str) -> str:
    """A GLN from its first 12 digits (company prefix and location reference)."""
    if len(body) != GLN_LENGTH - 1 or not _DIGITS.fullmatch(body):
        raise ValueError(f"a GLN body is {GLN_LENGTH - 1} digits, not {body!r}")
    return body + str(check_digit(body))


def check_gln(value: str) -> str:
    """A GLN as given, or ValueError saying what is wrong with it (in our own words: the
    message may be hashed into a block as a transaction's result)."""
    # str.isdigit() also accepts "²" and other non-ASCII digits, which no GS1 key contains.
    if len(value) != GLN_LENGTH or not _DIGITS.fullmatch(value):
        raise ValueError(f"GLN {value[:40]!r}: expected {GLN_LENGTH} digits 0-9")
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise ValueError(f"GLN {value}: check digit should be {expected}, not {value[-1]}")
    return value
