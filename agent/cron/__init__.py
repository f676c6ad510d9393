"""The cron core (pure: expressions, jitter, missed tasks, /loop parsing) and its runtime shell."""
