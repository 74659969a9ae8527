"""What the risk team is told about a case: an email's subject and text, a Slack
message in Block Kit. No account number and no customer contact ever appears."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from account_alerts.domain.cases import TeamMessageKind


@dataclass(frozen=True)
class CaseSummary:
    case_id: int
    kind: TeamMessageKind
    level: str
    source: str
    mobile_user_id: int
    outcome: str | None
    score: int | None
    rules: tuple[str, ...]
    opened_at: datetime
    ack_due_at: datetime
    url: str


def headline(summary: CaseSummary) -> str:
    if summary.kind is TeamMessageKind.CASE_ESCALATED:
        return f"Escalated to {summary.level}: case {summary.case_id} is not acknowledged"
    return f"New review case {summary.case_id}: {summary.source}"


def _facts(summary: CaseSummary) -> list[tuple[str, str]]:
    facts = [
        ("Source", summary.source),
        ("Customer", str(summary.mobile_user_id)),
        ("Opened", summary.opened_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Acknowledge by", summary.ack_due_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    if summary.outcome is not None:
        facts.append(("Decision", f"{summary.outcome} (score {summary.score})"))
    if summary.rules:
        facts.append(("Rules", ", ".join(summary.rules)))
    return facts


def email_text(summary: CaseSummary) -> str:
    lines = [headline(summary), ""]
    lines += [f"{label}: {value}" for label, value in _facts(summary)]
    lines += ["", f"Open the case: {summary.url}"]
    return "\n".join(lines) + "\n"


def _plain(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(summary: CaseSummary) -> dict[str, Any]:
    """A Block Kit message: a header, the facts as fields, a button to the case. ``text``
    is what notifications and clients without blocks show."""
    fields = [
        {"type": "mrkdwn", "text": _plain(f"*{label}*\n{_mrkdwn_escape(value)}", 2000)}
        for label, value in _facts(summary)
    ][:10]
    return {
        "text": _plain(f"{headline(summary)}: {summary.url}", 3000),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _plain(headline(summary), 150)},
            },
            {"type": "section", "fields": fields},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the case"},
                        "url": summary.url,
                        "action_id": f"open-case-{summary.case_id}",
                        "style": "primary",
                    }
                ],
            },
        ],
    }
