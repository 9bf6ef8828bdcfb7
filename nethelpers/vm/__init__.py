"""The ``vm`` backend: the lab's sandbox inside a small Linux VM run by QEMU as this user.

Used where the kernel will not give the lab namespaces (Binder, Ubuntu 24.04's AppArmor
restriction, locked-down containers). Work in progress: see issue 12.
"""
