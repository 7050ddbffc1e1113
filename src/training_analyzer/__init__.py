"""Training Analyzer: training-load metrics, an AI coach and a subscription service."""

__version__ = "0.1.0"
