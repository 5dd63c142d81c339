"""Notifications to citizens and staff (in-app, SMS, e-mail), sent after the transaction commits."""
