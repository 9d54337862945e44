"""A conversational agent on the RLM loop: tools, memory, streaming, resumable sessions."""

from rlm.agent.agent import AgentRLM, create_enforced_agent
from rlm.agent.store import SessionStore, default_store_path
from rlm.agent.streaming import AgentChunk, answer_text

__all__ = [
    "AgentChunk",
    "AgentRLM",
    "SessionStore",
    "answer_text",
    "create_enforced_agent",
    "default_store_path",
]
