"""Automation rules: when an event of the agency happens and the rule's conditions hold, run
its actions (notify, email, create a task, add a timeline entry, send a webhook) in order."""
