"""Notification: in-app notifications, preferences, email, outbound webhooks, automations."""
