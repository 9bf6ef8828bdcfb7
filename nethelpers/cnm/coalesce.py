"""Kernel changes held back inside a batch, so that two steps become one where the end state
is the same.

libnetwork makes a container's veth pair in the host, then moves one end into the sandbox and
renames it; at Leave it moves it back, then deletes the pair. Moving a link between namespaces
costs the kernel an RCU grace period (~15-20 ms here), more than everything else a ``docker
run`` does. Inside one batch the lab therefore makes the pair with that end already in the
sandbox under its final name (one netlink request: ``ip link add A type veth peer name eth0
netns c1``), and at Leave deletes the pair where it is instead of moving an end back to delete
it. The command log (:attr:`Kernel.commands`) still shows libnetwork's steps; outside a batch
every step is done as logged.
"""

from __future__ import annotations


class Pending:
    """What a Kernel holds back in its open batch (see the module's docstring)."""

    def __init__(self, kernel) -> None:
        self.kernel = kernel
        self.items: list[dict] = []
        self.pairs: dict[str, str] = {}   # veth end -> its peer, by the names they were made with

    def active(self) -> bool:
        return self.kernel.lab._batch is not None and not self.kernel._forgetting

    # --- creations ----------------------------------------------------------------------
    def add_veth(self, name: str, peer: str, master, peer_mac, mtu) -> None:
        host = self.kernel.host
        self.items.append({"kind": "veth", "a": {"node": host, "name": name, "master": master, "mac": None},
                           "b": {"node": host, "name": peer, "master": None, "mac": peer_mac, "moved": False},
                           "mtu": mtu})

    def add_macvlan(self, name: str, parent: str, mode: str, mac) -> None:
        self.items.append({"kind": "macvlan", "name": name, "parent": parent, "mode": mode, "mac": mac,
                           "into": None, "new_name": None})

    def _side(self, name: str, node: str):
        for item in self.items:
            if item["kind"] == "veth":
                for key in ("a", "b"):
                    if item[key]["node"] == node and item[key]["name"] == name:
                        return item, key
        return None, None

    def move_into(self, name: str, sandbox: str, new_name: str, mac: str) -> bool:
        """Held: True (the link is made there in the first place)."""
        item, key = self._side(name, self.kernel.host)
        if item is not None:
            item[key].update(node=sandbox, name=new_name, moved=True)
            if mac:
                item[key]["mac"] = mac
            return True
        for item in self.items:
            if item["kind"] == "macvlan" and item["into"] is None and item["name"] == name:
                item.update(into=sandbox, new_name=new_name, mac=mac or item["mac"])
                return True
        return False

    def set_master(self, name: str, master: str, node: str) -> bool:
        item, key = self._side(name, node)
        if item is None:
            return False
        if key == "b":  # the lab plugs the first end of a pair into a bridge: swap the ends
            item["a"], item["b"] = item["b"], item["a"]
        item["a"]["master"] = master
        return True

    # --- Leave, then delete --------------------------------------------------------------
    def move_out(self, name: str, sandbox: str, old_name: str) -> None:
        self.items.append({"kind": "move_out", "name": name, "sandbox": sandbox, "old_name": old_name})

    def remove_link(self, name: str) -> bool:
        """A link of the host deleted: if it (or its peer) was about to come back from a sandbox,
        delete it there instead. Held: True."""
        for item in self.items:
            if item["kind"] != "move_out":
                continue
            if item["old_name"] == name:  # the link itself (a macvlan): delete it where it is
                self.items.remove(item)
                self.flush()
                self.kernel.node_of(item["sandbox"]).remove_link(item["name"])
                return True
            if self.pairs.get(name) == item["old_name"]:  # its peer: deleting one end deletes both
                self.items.remove(item)
                self.flush()
                self.kernel.node.remove_link(name)
                return True
        return False

    # --- sent -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Queue what is held, in order, as the lab's operations."""
        items, self.items = self.items, []
        for item in items:
            getattr(self, "_emit_" + item["kind"])(item)

    def _emit_veth(self, item: dict) -> None:
        a, b, lab = item["a"], item["b"], self.kernel.lab
        lab.add_veth(f"{a['node']}:{a['name']}", f"{b['node']}:{b['name']}", master=a["master"], mac=a["mac"],
                     peer_mac=b["mac"], mtu=item["mtu"], up=b["moved"])
        if not b["moved"]:
            self.kernel.node_of(a["node"]).set_link(a["name"], up=True)

    def _emit_macvlan(self, item: dict) -> None:
        self.kernel.node.add_macvlan(item["new_name"] or item["name"], item["parent"], mode=item["mode"],
                                     mac=item["mac"], into=item["into"], up=item["into"] is not None)

    def _emit_move_out(self, item: dict) -> None:
        self.kernel.node_of(item["sandbox"]).move_link(item["name"], self.kernel.host, new_name=item["old_name"],
                                                       up=False)
