"""Drop-in support for code written against the reference implementation (PyPI `rlms`).

Everything the reference exposes under another name or path is listed in ONE table,
`rlm.compat.aliases.ALIASES` (module paths) and `EXTRA_NAMES` (names added to our modules), so
the whole compatibility surface can be read in one place and dropped later. The few reference
helpers that have no counterpart here live beside it (`reference_env`, `reference_utils`,
`reference_types`). See docs/switching.md.
"""

from rlm.compat.aliases import install

__all__ = ["install"]
