"""The risk team's channels: email and Slack messages about review cases."""
