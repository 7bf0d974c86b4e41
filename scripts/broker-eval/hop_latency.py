#!/usr/bin/env python3
"""One broker hop: PUBLISH QoS 1 -> the subscriber's receipt (QoS 1 subscription), p50/p99.

  hop_latency.py --port 1885 [--count 20000] [--rate 2000] [--payload 200]

One publisher and one subscriber on 127.0.0.1, both in this process (the same clock);
the publisher is paced at --rate messages/s and does not wait for each PUBACK (a reader
thread drains them), like the dispatcher. Each payload carries its send time. Python's own
overhead is in every figure equally, so compare brokers with each other, not with the
app benchmark. Standard library only.
"""

import argparse
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqttraw as m  # noqa: E402

HOST = "127.0.0.1"


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p / 100.0))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--payload", type=int, default=200)
    ap.add_argument("--name", default="broker")
    args = ap.parse_args()

    sub = m.Conn(HOST, args.port, timeout=30)
    sub.connect("hop-sub")
    sub.subscribe(1, [("hop/task", 1)])
    pub = m.Conn(HOST, args.port, timeout=30)
    pub.connect("hop-pub")

    lat = []
    done = threading.Event()

    def receiver():
        try:
            while len(lat) < args.count:
                t, f, body = sub.recv(timeout=10)
                if t != m.PUBLISH:
                    continue
                now = time.perf_counter_ns()
                _, payload, qos, _, pid = m.parse_publish(f, body)
                if qos == 1:
                    sub.send(m.packet(m.PUBACK, 0, struct.pack("!H", pid)))
                sent = struct.unpack("!q", payload[:8])[0]
                lat.append((now - sent) / 1e6)
        except (m.Closed, OSError) as e:
            print("receiver stopped: %s" % e, file=sys.stderr)
        finally:
            done.set()

    acks = [0]

    def ack_reader():
        try:
            while acks[0] < args.count:
                t, _, _ = pub.recv(timeout=10)
                if t == m.PUBACK:
                    acks[0] += 1
        except (m.Closed, OSError):
            pass

    threading.Thread(target=receiver, daemon=True).start()
    threading.Thread(target=ack_reader, daemon=True).start()
    filler = b"p" * max(0, args.payload - 8)
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for i in range(args.count):
        target = start + i * interval
        while True:
            d = target - time.perf_counter()
            if d <= 0:
                break
            time.sleep(d if d > 0.001 else 0)
        pid = (i % 65000) + 1
        body = struct.pack("!q", time.perf_counter_ns()) + filler
        pub.send(m.publish_packet("hop/task", body, qos=1, pid=pid))
    done.wait(timeout=60)
    lost = args.count - len(lat)
    s = sorted(lat)
    print("| %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %d |" % (
        args.name, args.count, args.rate, pct(s, 50), pct(s, 99), pct(s, 99.9),
        s[-1] if s else float("nan"), lost))
    sub.disconnect()
    pub.disconnect()


if __name__ == "__main__":
    main()
