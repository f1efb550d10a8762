"""The SSH executor: agentless remote workers over paramiko.

``connect`` (trust, auth, one transport per host), ``remote`` (quoted command
lines), ``host`` (what a host's slots share), ``slot`` (the remote Slot),
``push`` (data over the channel when hosts share no storage), ``inventory``
(sections -> slots), ``preflight`` (``hosts check``), ``bootstrap`` (``hosts
bootstrap``).
"""
