"""`retriever_tools(retriever)`: the es_* REPL tools of a retriever as `custom_tools` entries
(defined in rlm.core.retrieval_tools, where `RLM(retriever=...)` uses them)."""

from rlm.core.retrieval_tools import RETRIEVAL_NOTE, TOOL_NAMES, retriever_tools

__all__ = ["RETRIEVAL_NOTE", "TOOL_NAMES", "retriever_tools"]
