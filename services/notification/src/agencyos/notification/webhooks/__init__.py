"""Outbound webhooks: endpoints an agency registers, and the signed deliveries of its events
to them (Standard Webhooks), driven from the Kafka topics."""
