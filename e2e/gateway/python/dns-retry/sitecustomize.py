"""Imported by Python at start-up when this directory is on PYTHONPATH (e2e/gateway/release.ts
puts it there for the Python SDK checks). The local cluster's dnsmasq restarts whenever another
test file's gateway release adds or removes its domain; a lookup in that moment (a fraction of a
second) fails with "Name or service not known". This asks again, for names under the release's
domain (SOULBOX_RETRY_DOMAIN) only, for up to about 2 s, as e2e/cluster/test-support/dns-retry.ts
does for Node. A name that really does not resolve still fails, only later."""

import os
import socket
import time

_DOMAIN = os.environ.get("SOULBOX_RETRY_DOMAIN", "")
_RETRIES = 20
_RETRY_S = 0.1
_original = socket.getaddrinfo


def _under_domain(host) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    return bool(_DOMAIN) and isinstance(name, str) and (
        name == _DOMAIN or name.endswith("." + _DOMAIN)
    )


def _getaddrinfo(host, *args, **kwargs):
    if not _under_domain(host):
        return _original(host, *args, **kwargs)
    for _ in range(_RETRIES):
        try:
            return _original(host, *args, **kwargs)
        except socket.gaierror as err:
            if err.errno not in (socket.EAI_NONAME, socket.EAI_AGAIN):
                raise
            time.sleep(_RETRY_S)
    return _original(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
