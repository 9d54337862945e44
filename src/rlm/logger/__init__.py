"""Trajectory logging and the observer seam.

`Observer` is how anything watches a run (`RLM(observers=[...])`); `RLMLogger` writes JSONL
in the reference format; `RunRecorder` keeps one run in memory.
"""

from rlm.logger.observer import CallbackObserver, Observer, ObserverGroup
from rlm.logger.trajectory import RLMLogger, RunRecorder

__all__ = ["CallbackObserver", "Observer", "ObserverGroup", "RLMLogger", "RunRecorder"]
