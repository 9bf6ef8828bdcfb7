"""The sandbox: the one process that owns a lab's namespaces.

``setup`` lays out the namespaces, ``nodes`` makes named network namespaces,
``rtnl`` speaks netlink, ``network`` holds the operations (with rollback),
``processes`` runs commands in nodes, ``state`` reads the kernel back, and
``server`` ties them together behind a socket. Nothing in this package runs in
the notebook's own process but ``channel``, the protocol both ends speak.
"""
