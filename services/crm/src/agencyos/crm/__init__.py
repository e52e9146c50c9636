"""CRM: clients, contacts, pipelines and deals."""
