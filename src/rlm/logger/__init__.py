"""Trajectory logging: `RLMLogger` (JSONL, reference format) and the in-memory recorder."""

from rlm.logger.trajectory import RLMLogger, RunRecorder, TrajectorySink

__all__ = ["RLMLogger", "RunRecorder", "TrajectorySink"]
