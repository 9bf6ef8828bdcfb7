"""The sandbox: the one process that owns a lab's namespaces.

``setup`` lays out the namespaces, ``nodes`` makes named network namespaces,
``rtnl`` speaks netlink, ``network`` holds the operations (with rollback, ``journal``),
by what they touch in ``links``, ``addresses`` (and routes, neighbours) and ``sysctls``,
``processes`` runs commands in nodes (their argv in ``commands``, their pipes in ``streams``),
``state`` reads the kernel back, ``dns`` is the embedded DNS server (its answers in
``dnsanswers``; ``dnsservice`` drives it),
``server`` ties them together behind a socket, and ``launcher`` stays outside the
lab to end it with its owner and do the little that needs root outside. Nothing in this package runs in
the notebook's own process but ``channel``, the protocol both ends speak.
"""
