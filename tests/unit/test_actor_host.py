"""The two ends of the actor process's socket (delivery/actors/host.py), without the processes."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest

from delivery import codec
from delivery.actors.host import REPLY, _Channel, _Sender

# -- the child's end: answers go out from a thread of their own ----------------------------------


def test_the_sender_returns_at_once_when_nobody_reads_and_keeps_the_order():
    ours, theirs = socket.socketpair()
    send = _Sender(theirs)
    # Far more than the socket's buffers hold: a blocking write would wait for the reader.
    frames = [[n, REPLY, bytes([n]) * 100_000, n, 0, 0.0] for n in range(1, 51)]
    sending = threading.Thread(target=lambda: [send(frame) for frame in frames], daemon=True)
    try:
        sending.start()
        sending.join(5.0)
        assert not sending.is_alive(), "the sender waited for the front door to read"
        with pytest.raises(TypeError):  # what the codec does not know fails in the caller
            send([1, REPLY, object(), 0, 0, 0.0])
        stream, got = codec.stream(), []
        ours.settimeout(10.0)
        while len(got) < len(frames):
            stream.feed(ours.recv(1 << 16))
            got += list(stream)
        assert got == frames
    finally:
        ours.close()  # a sender stuck in a write gets EPIPE and lets go
        theirs.close()


class _GatedSocket:
    """A socket whose first write waits for the test; every write is kept."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.writing, self.gate = threading.Event(), threading.Event()

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if len(self.writes) == 1:
            self.writing.set()
            self.gate.wait(5.0)


def test_what_queues_up_behind_a_write_goes_out_in_one_and_close_flushes_it():
    sock = _GatedSocket()
    send = _Sender(sock)  # type: ignore[arg-type]
    send([1, "a"])
    assert sock.writing.wait(5.0)
    for corr in (2, 3, 4):
        send([corr, "b"])
    sock.gate.set()
    send.close(5.0)
    assert sock.writes == [codec.encode([1, "a"]),
                           b"".join(codec.encode([corr, "b"]) for corr in (2, 3, 4))]


def test_a_sender_whose_front_door_is_gone_stops_quietly():
    ours, theirs = socket.socketpair()
    ours.close()
    send = _Sender(theirs)
    send([1, REPLY, None, 0, 0, 0.0])
    send([2, REPLY, None, 0, 0, 0.0])
    send.close(5.0)
    assert not send.writer.is_alive()
    theirs.close()


# -- the front door's end: what is not a stream of frames closes the channel ---------------------


class _Transport:
    def __init__(self) -> None:
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def channel():
    loop = asyncio.new_event_loop()
    got: list[list] = []
    channel = _Channel(loop, got.append, got.append)
    channel.connection_made(_Transport())
    yield channel, got
    loop.close()


def test_bytes_that_are_no_frame_close_the_channel(channel, caplog):
    channel, got = channel
    with caplog.at_level(logging.ERROR, "delivery.system"):
        channel.data_received(b"\xc1 never used by msgpack")
    assert channel.transport.closed and got == []
    assert "not a frame" in caplog.text


def test_more_than_the_stream_buffers_closes_the_channel(channel, caplog):
    """The stream holds at most 100 MiB not yet decoded: past that, feed itself raises
    (BufferFull), which must end the channel as a bad frame does, not escape the protocol."""
    channel, got = channel
    huge = codec.encode(b"\0" * ((100 << 20) - 55))  # 50 bytes short of the stream's limit
    after = codec.encode([1, REPLY, "x" * 100, 0, 0, 0.0])
    with caplog.at_level(logging.ERROR, "delivery.system"):
        for start in range(0, len(huge) - 1000, 1 << 18):
            channel.data_received(huge[start:min(start + (1 << 18), len(huge) - 1000)])
        channel.data_received(huge[-1000:] + after)  # the end of one and the next, in one read
    assert channel.transport.closed and got == []
    assert "not a frame" in caplog.text
