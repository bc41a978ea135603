"""The typed reference engine."""
