"""In-app notifications: what other features tell a person (reminders, replies, grades), with optional e-mail."""
