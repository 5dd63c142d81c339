"""Supervision (督办): deadline warnings, reminders, supervision orders and escalation."""
