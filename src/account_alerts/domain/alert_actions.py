"""Which responses a customer may give to each kind of alert."""

from account_alerts.domain.enums import AlertType, UserAction

_ACTIONS: dict[AlertType, tuple[UserAction, ...]] = {
    AlertType.LOW_BALANCE: (UserAction.DISMISSED,),
    AlertType.LARGE_TRANSACTION: (
        UserAction.DISMISSED,
        UserAction.THIS_WAS_ME,
        UserAction.REPORT_FRAUD,
    ),
    AlertType.SUSPICIOUS_ACTIVITY: (
        UserAction.THIS_WAS_ME,
        UserAction.REPORT_FRAUD,
        UserAction.DISMISSED,
    ),
    AlertType.PAYMENT_DUE: (UserAction.QUICK_PAY, UserAction.DISMISSED),
    # "Not you?" is REPORT_FRAUD, which locks the user's access at once.
    AlertType.ACCOUNT_LOGIN: (
        UserAction.THIS_WAS_ME,
        UserAction.REPORT_FRAUD,
        UserAction.DISMISSED,
    ),
}

# Reporting fraud locks the customer's access: the app's "Not you?" button.
LOCKING_ACTIONS: dict[AlertType, frozenset[UserAction]] = {
    AlertType.SUSPICIOUS_ACTIVITY: frozenset({UserAction.REPORT_FRAUD}),
    AlertType.ACCOUNT_LOGIN: frozenset({UserAction.REPORT_FRAUD}),
    AlertType.LARGE_TRANSACTION: frozenset({UserAction.REPORT_FRAUD}),
}


def actions_for(alert_type: AlertType) -> tuple[UserAction, ...]:
    return _ACTIONS[alert_type]


def locks_user(alert_type: AlertType, action: UserAction | None) -> bool:
    return action is not None and action in LOCKING_ACTIONS.get(alert_type, frozenset())
