"""schema.graphql is the contract with the app and the bank's services; it must be the
schema the code serves."""

from pathlib import Path

from account_alerts.api.schema import export_sdl

ROOT = Path(__file__).resolve().parents[2]

CONTRACT_NAMES = [
    "accountAlertSettings(accountNumber: String!): AccountAlertSettings",
    "unacknowledgedAlertCount: Int!",
    "updateAccountAlertSettings(accountNumber: String!, settings: AccountAlertSettingsInput!)"
    ": AccountAlertSettings!",
    "acknowledgeAlert(alertId: ID!, action: UserAction = null): Boolean!",
    "alertCreated: AccountAlert!",
    "upsertAccount(input: AccountInput!): EventResult!",
    "union AlertDetails = LowBalanceDetails | LargeTransactionDetails | "
    "SuspiciousActivityDetails | PaymentDueDetails | AccountLoginDetails",
    "type AccountAlertsResult {",
]


def test_schema_file_matches_the_code() -> None:
    on_disk = (ROOT / "schema.graphql").read_text()
    assert on_disk == export_sdl(), (
        "schema.graphql is out of date: run `account-alerts export-schema`"
    )


def test_schema_keeps_the_contract_names() -> None:
    sdl = export_sdl()
    for name in CONTRACT_NAMES:
        assert name in sdl, name
