"""Getting alerts to the customer: the outbox worker, channels, and live in-app updates."""
