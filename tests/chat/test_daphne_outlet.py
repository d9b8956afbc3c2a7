"""Daphne's outlet (chat/hub.py, DaphneOutlet.send) writes a frame into the
socket itself when Twisted holds nothing for that connection, and otherwise
behind what Twisted holds: never out of order, and what the socket does not
take goes to Twisted's buffer, after what the socket took. A real socket pair
and Twisted's own TCP connection class; the reactor only records what is
asked of it."""

import socket

import pytest
from twisted.internet import tcp

from chat import hub


class Reactor:
    """What a Twisted connection asks of its reactor when it buffers."""

    def __init__(self):
        self.writers = []

    def addWriter(self, selectable):
        self.writers.append(selectable)

    def removeWriter(self, selectable):
        self.writers.remove(selectable)


@pytest.fixture
def wire():
    """A real TCP connection as Daphne holds it (Twisted's tcp.Connection over
    a connected socket, its reactor a recorder) and the peer's end."""
    here, peer = socket.socketpair()
    here.setblocking(False)
    peer.settimeout(1)
    reactor = Reactor()
    connection = tcp.Connection(here, protocol=None, reactor=reactor)
    connection.connected = True
    outlet = hub.DaphneOutlet(consumer=None, protocol=None)
    outlet.transport, outlet.direct = connection, True
    yield outlet, connection, peer, reactor
    here.close()
    peer.close()


def test_a_frame_goes_straight_into_the_socket_when_twisted_holds_nothing(wire):
    outlet, connection, peer, reactor = wire

    outlet.send(b"frame one")

    assert peer.recv(100) == b"frame one"
    assert reactor.writers == []  # no writer registered, no turn to wait for
    assert connection._tempDataLen == 0


def test_a_frame_waits_behind_what_twisted_holds_for_the_same_socket(wire):
    outlet, connection, peer, reactor = wire
    connection.write(b"held by Twisted ")  # not written until its next turn

    outlet.send(b"then this")

    assert connection._tempDataBuffer == [b"held by Twisted ", b"then this"]
    peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        peer.recv(100)  # nothing overtook what Twisted holds
    connection.doWrite()
    peer.setblocking(True)
    assert peer.recv(100) == b"held by Twisted then this"


def test_what_the_socket_does_not_take_goes_to_twisted_after_what_it_took(wire):
    outlet, connection, peer, reactor = wire
    big = bytes(range(256)) * 40_000  # 10 MB: more than any socket buffer

    outlet.send(big)

    assert 0 < connection._tempDataLen < len(big)
    assert reactor.writers == [connection]
    received = bytearray()
    while len(received) < len(big):
        if connection._tempDataLen or connection.offset < len(connection.dataBuffer):
            connection.doWrite()
        received += peer.recv(1 << 20)
    assert bytes(received) == big
