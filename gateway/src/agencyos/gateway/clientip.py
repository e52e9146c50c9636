"""The client's IP address: agencyos.common.clientip (identity reads it the same way)."""

from agencyos.common.clientip import IPNetwork, client_ip, in_networks, parse_networks

__all__ = ["IPNetwork", "client_ip", "in_networks", "parse_networks"]
