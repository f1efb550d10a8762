"""The SSH executor: slots on remote hosts, their workers started over paramiko (agentless).

``connect`` (trust, auth, one transport per host), ``remote_commands`` (quoted
command lines), ``host`` (what a host's slots share), ``slot`` (the remote Slot),
``push`` (data over the channel when hosts share no storage), ``inventory``
(sections -> slots), ``preflight`` (``hosts check``), ``bootstrap`` (``hosts
bootstrap``).
"""
