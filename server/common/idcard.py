"""Resident ID numbers (居民身份证号码) checked by the GB 11643-1999 check digit."""
from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def is_valid(number: str) -> bool:
    """True when the number has the right shape, a real birth date and its check digit."""
    number = number.strip().upper()
    if not _SHAPE.match(number):
        return False
    try:
        birth_date(number)
    except ValueError:
        return False
    return check_digit(number[:17]) == number[17]


def normalise(number: str) -> str:
    return number.strip().upper()


def birth_date(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender(number: str) -> str:
    """The 17th digit is odd for men and even for women."""
    return "male" if int(number[16]) % 2 else "female"


def make(region_code: str, born: date, sequence: int) -> str:
    """Build a valid number (demo data and tests): 6-digit region, birth date, 3-digit sequence."""
    first17 = f"{region_code[:6]}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_digit(first17)
