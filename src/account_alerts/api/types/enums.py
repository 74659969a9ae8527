"""The specification's enums, exposed under their own names."""

import strawberry

from account_alerts.domain import enums, webhooks

AlertType = strawberry.enum(enums.AlertType)
NotificationChannel = strawberry.enum(enums.NotificationChannel)
AlertStatus = strawberry.enum(enums.AlertStatus)
TransactionType = strawberry.enum(enums.TransactionType)
SuspicionReason = strawberry.enum(enums.SuspicionReason)
PaymentType = strawberry.enum(enums.PaymentType)
PaymentReminderInterval = strawberry.enum(enums.PaymentReminderInterval)
LoginAlertMode = strawberry.enum(enums.LoginAlertMode)
LoginMethod = strawberry.enum(enums.LoginMethod)
UserAction = strawberry.enum(enums.UserAction)
ResolutionAction = strawberry.enum(enums.ResolutionAction)
DeliveryStatus = strawberry.enum(enums.DeliveryStatus)
PaymentStatus = strawberry.enum(enums.PaymentStatus)
WebhookEventType = strawberry.enum(webhooks.WebhookEventType)
WebhookDeliveryStatus = strawberry.enum(webhooks.WebhookDeliveryStatus)
AnomalyModelStatus = strawberry.enum(enums.AnomalyModelStatus)
