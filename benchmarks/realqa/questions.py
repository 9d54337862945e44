"""Real-material questions: text that ships with a Debian machine or with CPython.

Every question carries the evidence that makes its answer true in this machine's copy of the
material (a regex that must match, or a count recomputed from the files), so a question whose
corpus changed (another Python, another licence package) is reported and left out instead of
being graded against a stale answer. Nothing here was written for the model: the corpora are
whatever the paths hold.
"""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LICENSES = Path("/usr/share/common-licenses")
MAN1 = Path("/usr/share/man/man1")
STDLIB = Path(sysconfig.get_paths()["stdlib"])

# name -> the --context arguments `rlm run` is given (a file, a directory or a glob).
CORPORA: dict[str, list[str]] = {
    "apache-2.0": [str(LICENSES / "Apache-2.0")],
    "gpl-3": [str(LICENSES / "GPL-3")],
    "licenses-dir": [str(LICENSES)],
    "json-pkg": [str(STDLIB / "json")],
    "email-pkg": [str(STDLIB / "email")],
    "tarfile": [str(STDLIB / "tarfile.py")],
    "stdlib-top": [str(STDLIB / "*.py")],
    # Added on 2026-12-03, after the engine changes they exercise (gzipped man pages, counts,
    # constants): material the engine was not tuned on.
    "man-tools": [str(MAN1 / f"{tool}.1.gz") for tool in ("gzip", "grep", "sed", "tar")],
    "logging-pkg": [str(STDLIB / "logging")],
    "http-pkg": [str(STDLIB / "http")],
    "unittest-pkg": [str(STDLIB / "unittest")],
}

Documents = list[tuple[str, str]]  # (path, text)


@dataclass(frozen=True)
class Question:
    qid: str
    corpus: str
    question: str
    answers: tuple[str, ...]  # accepted spellings; the first is the canonical one
    numeric: bool = False
    # True when the corpus proves the answer: a regex over the documents, or a function.
    evidence: str | Callable[[Documents], bool] = field(default="", repr=False)
    aggregation: bool = False  # needs counting or combining across lines or files


def _count(pattern: str, path_suffix: str, expected: int) -> Callable[[Documents], bool]:
    rx = re.compile(pattern, re.MULTILINE)

    def check(docs: Documents) -> bool:
        total = sum(len(rx.findall(text)) for path, text in docs if path.endswith(path_suffix))
        return total == expected

    return check


def _files_with(pattern: str, expected: int) -> Callable[[Documents], bool]:
    rx = re.compile(pattern, re.MULTILINE)
    return lambda docs: sum(1 for _, text in docs if rx.search(text)) == expected


QUESTIONS: list[Question] = [
    # Apache-2.0, 11 KB, one string
    Question(
        "apache-warranty-section",
        "apache-2.0",
        "Which numbered section of this licence is titled 'Disclaimer of Warranty'? "
        "Answer with the section number.",
        ("7",),
        numeric=True,
        evidence=r"^\s*7\. Disclaimer of Warranty\.",
    ),
    Question(
        "apache-date",
        "apache-2.0",
        "In which month and year was this version of the licence published?",
        ("January 2004",),
        evidence=r"Version 2\.0, January 2004",
    ),
    Question(
        "apache-trademarks-section",
        "apache-2.0",
        "Which numbered section of this licence is about trademarks? Answer with the number.",
        ("6",),
        numeric=True,
        evidence=r"^\s*6\. Trademarks\.",
    ),
    # GPL-3, 35 KB, one string
    Question(
        "gpl3-cure-days",
        "gpl-3",
        "Under section 8, how many days after receiving notice does a licensee have to cure "
        "a first violation for the licence to be reinstated?",
        ("30",),
        numeric=True,
        evidence=r"cure the violation prior to 30 days after",
    ),
    Question(
        "gpl3-cessation-days",
        "gpl-3",
        "Under section 8, the licence is reinstated permanently if the copyright holder fails "
        "to notify you of the violation within how many days after the cessation?",
        ("60",),
        numeric=True,
        evidence=r"prior to 60 days after the cessation",
    ),
    Question(
        "gpl3-date",
        "gpl-3",
        "On what date was version 3 of this licence published?",
        ("29 June 2007", "June 29, 2007", "2007-06-29"),
        evidence=r"Version 3, 29 June 2007",
    ),
    # /usr/share/common-licenses, ~240 KB, a list of {path, content} documents
    Question(
        "licenses-gfdl-2008",
        "licenses-dir",
        "Which version of the GNU Free Documentation License is dated 3 November 2008? "
        "Answer with the version number.",
        ("1.3",),
        evidence=r"Version 1\.3, 3 November 2008",
    ),
    Question(
        "licenses-mpl2-compliance-days",
        "licenses-dir",
        "In the Mozilla Public License Version 2.0, a Contributor's grants are reinstated on "
        "an ongoing basis unless the Contributor notifies you of the non-compliance within how "
        "many days after you have come back into compliance?",
        ("60",),
        numeric=True,
        evidence=r"prior to 60 days after You have\s+come back into compliance",
    ),
    Question(
        "licenses-gfdl-versions",
        "licenses-dir",
        "How many different versions of the GNU Free Documentation License does this "
        "collection contain (count distinct version numbers)?",
        ("2",),
        numeric=True,
        evidence=lambda docs: (
            {
                m
                for _, t in docs
                for m in re.findall(r"GNU Free Documentation License\s+Version (1\.\d)", t)
            }
            == {"1.2", "1.3"}
        ),
        aggregation=True,
    ),
    Question(
        "licenses-lgpl2-year",
        "licenses-dir",
        "In which year was version 2 of the GNU Library General Public License published?",
        ("1991",),
        numeric=True,
        evidence=r"GNU LIBRARY GENERAL PUBLIC LICENSE\s+Version 2, June 1991",
    ),
    # the json package, 48 KB, 5 documents
    Question(
        "json-decodeerror-file",
        "json-pkg",
        "Which file of this package defines the class JSONDecodeError? Answer with the file name.",
        ("decoder.py",),
        evidence=r"^class JSONDecodeError\(",
    ),
    Question(
        "json-version",
        "json-pkg",
        "What is the value of __version__ in this package?",
        ("2.0.9",),
        evidence=r"^__version__ = '2\.0\.9'",
    ),
    Question(
        "json-init-functions",
        "json-pkg",
        "How many top-level functions (lines starting with 'def ') does the package's "
        "__init__.py define?",
        ("5",),
        numeric=True,
        evidence=_count(r"^def ", "json/__init__.py", 5),
        aggregation=True,
    ),
    # the email package, ~370 KB, ~25 documents
    Question(
        "email-maxlinelen",
        "email-pkg",
        "What is the value of the constant MAXLINELEN in the package's header module?",
        ("78",),
        numeric=True,
        evidence=r"^MAXLINELEN = 78$",
    ),
    Question(
        "email-charset-file",
        "email-pkg",
        "Which file of this package defines the class Charset? Answer with the file name.",
        ("charset.py",),
        evidence=r"^class Charset:",
    ),
    Question(
        "email-errors-classes",
        "email-pkg",
        "How many classes (lines starting with 'class ') does the package's errors.py define?",
        ("26",),
        numeric=True,
        evidence=_count(r"^class ", "email/errors.py", 26),
        aggregation=True,
    ),
    # tarfile.py, 106 KB, one string
    Question(
        "tarfile-blocksize",
        "tarfile",
        "What is the value of BLOCKSIZE in this module, in bytes?",
        ("512",),
        numeric=True,
        evidence=r"^BLOCKSIZE = 512\b",
    ),
    Question(
        "tarfile-recordsize",
        "tarfile",
        "What is the value of RECORDSIZE in this module, in bytes (as a number)?",
        ("10240",),
        numeric=True,
        evidence=r"^RECORDSIZE = BLOCKSIZE \* 20\b",
    ),
    Question(
        "tarfile-xz-method",
        "tarfile",
        "In TarFile.OPEN_METH, which method name handles the 'xz' compression?",
        ("xzopen",),
        evidence=r'"xz":\s+"xzopen"',
    ),
    # CPython's top-level stdlib modules, ~4.7 MB, ~170 documents
    Question(
        "stdlib-copy-bufsize-module",
        "stdlib-top",
        "Which module (file) defines the constant COPY_BUFSIZE? Answer with the file name.",
        ("shutil.py", "shutil"),
        evidence=r"^COPY_BUFSIZE = ",
    ),
    Question(
        "stdlib-copy-bufsize-value",
        "stdlib-top",
        "What is COPY_BUFSIZE on platforms other than Windows, in bytes (as a number)?",
        ("65536", "64 * 1024", "64*1024"),
        numeric=True,
        evidence=r"^COPY_BUFSIZE = 1024 \* 1024 if _WINDOWS else 64 \* 1024$",
    ),
    Question(
        "stdlib-dedent-module",
        "stdlib-top",
        "Which module (file) defines the top-level function dedent? Answer with the file name.",
        ("textwrap.py", "textwrap"),
        evidence=_files_with(r"^def dedent\(", 1),
    ),
    Question(
        "stdlib-error-classes",
        "stdlib-top",
        "How many of these modules define a top-level class named exactly Error "
        "(a line starting with 'class Error(' or 'class Error:')?",
        ("11",),
        numeric=True,
        evidence=_files_with(r"^class Error[(:]", 11),
        aggregation=True,
    ),
    # gzip, grep, sed and tar's man pages (troff source, gzipped), ~190 KB
    Question(
        "man-gzip-level",
        "man-tools",
        "What is gzip's default compression level?",
        ("6", "-6"),
        numeric=True,
        evidence=r"The default compression level is\n\.B \\-6",
    ),
    Question(
        "man-grep-error-status",
        "man-tools",
        "What exit status does grep return when an error occurred?",
        ("2",),
        numeric=True,
        evidence=r"and 2 if an error occurred",
    ),
    # the logging package, ~220 KB
    Question(
        "logging-warning",
        "logging-pkg",
        "What is the numeric value of the WARNING level in the logging package?",
        ("30",),
        numeric=True,
        evidence=r"^WARNING = 30$",
    ),
    Question(
        "logging-init-classes",
        "logging-pkg",
        "How many classes (lines starting with 'class ') does the package's __init__.py define?",
        ("18",),
        numeric=True,
        evidence=_count(r"^class ", "logging/__init__.py", 18),
        aggregation=True,
    ),
    # the http package, ~290 KB
    Question(
        "http-teapot",
        "http-pkg",
        "Which numeric status code does HTTPStatus.IM_A_TEAPOT have?",
        ("418",),
        numeric=True,
        evidence=r"IM_A_TEAPOT = \(418,",
    ),
    Question(
        "http-maxheaders",
        "http-pkg",
        "What is the value of _MAXHEADERS in the package's client module?",
        ("100",),
        numeric=True,
        evidence=r"^_MAXHEADERS = 100$",
    ),
    # the unittest package, ~1 MB with its tests
    Question(
        "unittest-runner-file",
        "unittest-pkg",
        "Which file of the unittest package defines the class TextTestRunner? Answer with the "
        "file name.",
        ("runner.py",),
        evidence=r"^class TextTestRunner\(",
    ),
    Question(
        "unittest-main-default-verbosity",
        "unittest-pkg",
        "What is the default value of the verbosity parameter of TestProgram.__init__ in "
        "unittest's main.py?",
        ("1",),
        numeric=True,
        evidence=r"verbosity=1",
    ),
]
