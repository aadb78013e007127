"""Loaded by every Python process the offline tests start (PYTHONPATH): internet sockets and DNS refuse.

Each attempt is also appended to $MEDMIX_NETWORK_LOG, so a test can prove none happened even where
the code under test swallowed the error.
"""

import os
import socket

LOG = os.environ.get("MEDMIX_NETWORK_LOG")
INTERNET = (socket.AF_INET, socket.AF_INET6)


def refuse(what: str):
    if LOG:
        with open(LOG, "a") as handle:
            handle.write(f"{os.getpid()} {what}\n")
    raise OSError(f"network access blocked in offline test: {what}")


_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto


def connect(self, address):
    if self.family in INTERNET:
        refuse(f"connect {address}")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in INTERNET:
        refuse(f"connect_ex {address}")
    return _connect_ex(self, address)


def sendto(self, *args):
    if self.family in INTERNET:
        refuse("sendto")
    return _sendto(self, *args)


def resolver(name: str):
    def resolve(host, *args, **kwargs):
        refuse(f"{name} {host}")

    return resolve


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
    setattr(socket, _name, resolver(_name))
