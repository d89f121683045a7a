"""rla: benchmark local LLMs reproducibly and publish results the RunLocalAI leaderboard trusts."""

__version__ = "0.1.0"
