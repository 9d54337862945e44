"""Constants defined by arithmetic get their value written after them in the first look."""

from __future__ import annotations

import pytest

from rlm.core.constants import annotate, assignments
from rlm.core.first_look import first_look
from rlm.core.grounding import grounded

MODULE = """\
BLOCKSIZE = 512                 # length of processing blocks
RECORDSIZE = BLOCKSIZE * 20     # length of records
HEADER: int = RECORDSIZE // 4
WINDOWS = False
COPY_BUFSIZE = 1024 * 1024 if WINDOWS else 64 * 1024

class Reader:
    BLOCKSIZE = 1

    def read(self):
        size = BLOCKSIZE * 2
"""


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("RECORDSIZE = BLOCKSIZE * 20     # length of records", "(= 10240)"),
        ("HEADER: int = RECORDSIZE // 4", "# = 2560"),  # names that refer to names
        ("        size = BLOCKSIZE * 2", "# = 1024"),  # the module's BLOCKSIZE, not Reader's
        ("MASK = ~0 & 0xFF", "# = 255"),
    ],
)
def test_arithmetic_on_numbers_and_assigned_names_is_evaluated(line, shown):
    assert annotate(line, assignments(MODULE)).endswith(shown)


@pytest.mark.parametrize(
    "line",
    [
        "BLOCKSIZE = 512",  # already a value
        "COPY_BUFSIZE = 1024 * 1024 if WINDOWS else 64 * 1024",  # depends on more than text
        "X = UNKNOWN * 2",
        "        total = size * 2",  # `size` is only a local of read(): no value to give
        "X = 2 ** 10 ** 10",  # bounded: never computed
        "X = 1 << 100000",
        "X = 10 ** 40",
        "X = f(3) + 1",
        'NAME = "a" + "b"',
        "if x == 2 * 3:",
        "X = (1 +",  # cut off
    ],
)
def test_anything_else_is_left_as_written(line):
    assert annotate(line, assignments(MODULE)) == line


def test_a_name_that_refers_to_itself_is_not_followed_forever():
    assert annotate("A = B + 1", {"A": "B + 1", "B": "A + 1"}) == "A = B + 1"


def test_the_first_look_shows_the_value_and_an_answer_with_it_is_grounded():
    look = first_look(MODULE, "What is the value of RECORDSIZE in bytes?", 3000)
    assert look is not None
    assert "RECORDSIZE = BLOCKSIZE * 20     # length of records (= 10240)" in look.text
    assert grounded("10240", look)
