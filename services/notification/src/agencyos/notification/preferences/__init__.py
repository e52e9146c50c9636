"""Who hears about what, on which channel: a person's own choices, an agency's changes of each
role's defaults, the catalog's defaults (agencyos.notification.kinds), and the signed link in
every email that turns one kind's email off."""
