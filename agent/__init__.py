"""agent: a terminal coding agent for Claude with a cron scheduler inside the running process."""

__version__ = "0.1.0"

__all__ = ["__version__"]
