"""Classic (non-contextual) bandit agents."""
