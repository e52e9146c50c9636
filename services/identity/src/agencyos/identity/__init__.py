"""Identity: agencies (tenants), users, memberships and roles, tokens and signing keys."""
