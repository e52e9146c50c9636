"""agencyos.common: the toolkit every AgencyOS service shares, so no service writes it again."""
