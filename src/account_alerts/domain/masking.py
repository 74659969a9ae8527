"""What a notification or a log line may show of a customer's identifiers."""


def mask_account_number(account_number: str) -> str:
    return "****" + account_number[-4:] if len(account_number) > 4 else "****"


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return digits[:3] + "*" * max(0, len(digits) - 5) + digits[-2:] if len(digits) > 5 else "***"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"
