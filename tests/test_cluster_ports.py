"""The scale-out topology's ports stay out of the kernel's ephemeral range, where any outgoing connection made
while the topology starts could take one of them first (``Address already in use``)."""

from __future__ import annotations

import socket

from gis_service import cluster


def test_free_base_is_a_free_run_below_the_ephemeral_range() -> None:
    base = cluster.free_base()
    assert base + cluster.PORTS <= cluster.ephemeral_ports().start
    assert cluster.ports_free(base)


def test_free_base_skips_a_run_with_a_port_taken() -> None:
    base = cluster.free_base()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 3))
        taken.listen()
        assert not cluster.ports_free(base)
        other = cluster.free_base()
        assert cluster.ports_free(other)
        assert not (other <= base + 3 < other + cluster.PORTS)
