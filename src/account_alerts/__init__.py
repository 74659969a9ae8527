"""account-alerts: real-time account alerts for mobile-banking customers."""

__version__ = "0.1.0"
