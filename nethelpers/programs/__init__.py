"""Programs that run as processes inside the lab's nodes, apart from the library that starts them
(as moby keeps ``cmd/docker-proxy``): each is ``python -m nethelpers.programs.NAME``.

    docker_proxy.py    docker-proxy, the userland proxy of one published port (its command line;
                       docker_proxy_loop, _tcp, _udp and _addresses hold the rest)
    web.py             the small web server of the nginx/httpd images and of the internet server
    dns_server.py      the world's DNS server, on the router (what the hosts' resolv.conf names)
    overlay_agent.py   a Docker host's overlay control plane (gossip on 7946, or a KV store; its
                       command line: overlay_agent_base, overlay_kernel, overlay_gossip_agent and
                       overlay_kv_agent hold the rest)
    kvstore.py         an etcd v2-style key-value store (Docker 1.9-20.10's --cluster-store)
    network_plugin.py  a network driver and IPAM plugin serving libnetwork's remote protocol

They import nothing of the notebook side's lab (they run without it, in a node).
"""
