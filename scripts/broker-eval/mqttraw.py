"""Minimal MQTT 3.1.1 client over a raw socket, standard library only.

Used by probes.py and hop_latency.py in this directory. It builds packets byte by byte so
the probes can send what no well-behaved client library would (10,000-level topics, a
SUBSCRIBE with 9,000 filters, 20 KB client ids). Loopback use only.
"""

import socket
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


class Closed(Exception):
    """The broker closed the connection (or it broke)."""


def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + _varint(len(body)) + body


def connect_packet(client_id, clean=True, keepalive=60, username=None, password=None,
                   will=None):
    """will = (topic, payload, qos, retain) or None."""
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _str(topic) + _str(msg)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    body = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return packet(CONNECT, 0, body)


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = _str(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return packet(PUBLISH, flags, body)


def subscribe_packet(pid, filters):
    """filters: list of (filter, qos)."""
    body = struct.pack("!H", pid) + b"".join(_str(f) + bytes([q]) for f, q in filters)
    return packet(SUBSCRIBE, 2, body)


class Conn:
    """One client connection. recv() returns (type, flags, body) or raises Closed."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(str(e)) from e

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise
            except OSError as e:
                raise Closed(str(e)) from e
            if not chunk:
                raise Closed("connection closed by broker")
            self.buf += chunk

    def recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        self._fill(2)
        mult, length, i = 1, 0, 1
        while True:
            self._fill(i + 1)
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._fill(i + length)
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        return first >> 4, first & 0x0F, body

    def expect(self, ptype, timeout=10.0):
        """Next packet of this type; others are skipped (PUBLISHes QoS 1 are acked)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no packet of type %d" % ptype)
            t, f, body = self.recv(timeout=left)
            if t == ptype:
                return f, body
            if t == PUBLISH:
                self.ack_publish(f, body)

    def ack_publish(self, flags, body):
        qos = (flags >> 1) & 3
        if qos:
            tl = struct.unpack("!H", body[:2])[0]
            pid = body[2 + tl:4 + tl]
            self.send(packet(PUBACK if qos == 1 else PUBREC, 0, pid))

    def connect(self, client_id, timeout=10.0, **kw):
        """Sends CONNECT; returns (session_present, return_code)."""
        self.send(connect_packet(client_id, **kw))
        _, body = self.expect(CONNACK, timeout)
        return body[0] & 1, body[1]

    def subscribe(self, pid, filters, timeout=10.0):
        """Returns the SUBACK return codes."""
        self.send(subscribe_packet(pid, filters))
        while True:
            _, body = self.expect(SUBACK, timeout)
            if struct.unpack("!H", body[:2])[0] == pid:
                return list(body[2:])

    def publish(self, topic, payload, qos=0, retain=False, pid=1, wait_ack=True, timeout=10.0):
        self.send(publish_packet(topic, payload, qos, retain, pid))
        if qos == 1 and wait_ack:
            self.expect(PUBACK, timeout)

    def ping(self, timeout=10.0):
        self.send(packet(PINGREQ, 0, b""))
        self.expect(PINGRESP, timeout)

    def disconnect(self):
        try:
            self.send(packet(DISCONNECT, 0, b""))
        except Closed:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_publish(flags, body):
    """(topic, payload, qos, retain, pid)."""
    qos = (flags >> 1) & 3
    tl = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + tl].decode(errors="replace")
    off = 2 + tl
    pid = 0
    if qos:
        pid = struct.unpack("!H", body[off:off + 2])[0]
        off += 2
    return topic, body[off:], qos, bool(flags & 1), pid
