"""What a file is: its language by extension, and whether the index skips it by default."""

from __future__ import annotations

import os

# Extension (lower case, with the dot) or exact file name -> language name.
LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".rb": "ruby",
    ".php": "php",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".sh": "shell",
    ".bash": "shell",
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".html": "html",
    ".css": "css",
    ".sql": "sql",
    "makefile": "make",
    "dockerfile": "docker",
}

# Directory names never descended into by default: version control, dependency caches,
# virtualenvs and build output are not the code being asked about.
SKIPPED_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "bower_components",
        "vendor",
        "third_party",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "site-packages",
        "dist",
        "build",
        "target",
        ".next",
        ".cache",
        ".idea",
        ".vscode",
        ".eggs",
    }
)

# Generated files by name suffix: minified bundles, protobuf output, lock files.
GENERATED_SUFFIXES: tuple[str, ...] = (
    ".min.js",
    ".min.css",
    ".map",
    "_pb2.py",
    "_pb2_grpc.py",
    ".pb.go",
    ".lock",
    "package-lock.json",
    ".pyc",
    ".pyo",
    ".so",
    ".dll",
    ".dylib",
    ".o",
    ".a",
)

BINARY_PROBE_BYTES = 8192


def language_of(label: str) -> str:
    """The language of a repo-relative path, or "other"."""
    name = os.path.basename(label).lower()
    if name in LANGUAGES:
        return LANGUAGES[name]
    return LANGUAGES.get(os.path.splitext(name)[1], "other")


def is_generated(label: str) -> bool:
    return label.lower().endswith(GENERATED_SUFFIXES)


def looks_binary(head: bytes) -> bool:
    """A NUL byte in the first block is how git decides, and it is right often enough."""
    return b"\0" in head[:BINARY_PROBE_BYTES]
