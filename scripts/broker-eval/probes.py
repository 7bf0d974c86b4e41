#!/usr/bin/env python3
"""Hostile-client probes against an MQTT 3.1.1 broker on 127.0.0.1 (issue 12).

Each probe gets a fresh broker when --start is given (the command is run with {port}
replaced, its process is the one whose VmRSS is read, and it is killed afterwards);
otherwise all probes hit the broker already on --port and --pid names its process for the
memory figures. Standard library only; loopback only; every loop is bounded.

  probes.py --port 1885 --start 'target/release/examples/interop_broker 127.0.0.1:{port}'
  probes.py --port 1886 --pid 12345 --only takeover,deep_sub

The broker must accept anonymous clients (or any credentials) and allow every topic:
ACLs are not what these probes test. Prints one markdown table row per probe and writes
the raw results as JSON with --json.
"""

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqttraw as m  # noqa: E402

HOST = "127.0.0.1"
# Put before every topic and filter (--prefix), for a broker whose clients may only use
# part of the tree, e.g. "frigate/" for our broker's source logins.
PREFIX = ""
LEVELS = 10_000


def rss_mb(pid):
    if not pid:
        return None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def pid_alive(pid):
    if not pid:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def alive(port, pid, patience=30.0):
    """The broker accepts a CONNECT and answers a PING (5 s each try, retried for up to
    `patience` seconds while its process lives: a busy broker is slow, not dead)."""
    deadline = time.monotonic() + patience
    while pid_alive(pid):
        try:
            c = m.Conn(HOST, port, timeout=5)
            _, rc = c.connect("probe-alive-check", timeout=5)
            c.ping(timeout=5)
            c.disconnect()
            return rc == 0
        except (OSError, m.Closed, socket.timeout):
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
    return False


def deep(n=LEVELS):
    return PREFIX + "/".join(["a"] * n)


def probe_deep_sub(port, pid):
    """SUBSCRIBE to a 10,000-level filter, then DISCONNECT."""
    out = {}
    c = m.Conn(HOST, port)
    c.connect("probe-deep-sub")
    try:
        codes = c.subscribe(1, [(deep(), 0)], timeout=20)
        out["suback"] = "0x%02x" % codes[0]
    except m.Closed as e:
        out["suback"] = "connection closed (%s)" % e
    except socket.timeout:
        out["suback"] = "no SUBACK in 20 s"
    c.disconnect()
    time.sleep(1)
    out["alive"] = alive(port, pid)
    out["summary"] = "SUBACK %s; broker %s" % (out["suback"], "alive" if out["alive"] else "DEAD")
    return out


def _deep_pub(port, pid, sub_filter):
    out = {}
    sub = m.Conn(HOST, port)
    sub.connect("probe-deep-pub-sub")
    try:
        out["suback"] = "0x%02x" % sub.subscribe(1, [(sub_filter, 0)], timeout=20)[0]
    except (m.Closed, socket.timeout) as e:
        out["suback"] = "failed (%s)" % (e or type(e).__name__)
    try:
        pub = m.Conn(HOST, port)
        pub.connect("probe-deep-pub-pub")
        pub.publish(deep(), b"deep", qos=1, pid=1, timeout=20)
        out["puback"] = True
        pub.disconnect()
    except (m.Closed, socket.timeout, OSError) as e:
        out["puback"] = "no (%s)" % (e or type(e).__name__)
    try:
        f, body = sub.expect(m.PUBLISH, timeout=5)
        out["delivered"] = m.parse_publish(f, body)[0] == deep()
    except (m.Closed, socket.timeout, OSError) as e:
        out["delivered"] = "no (%s)" % (e or type(e).__name__)
    sub.close()
    time.sleep(1)
    out["alive"] = alive(port, pid)
    out["summary"] = "SUBACK %s, PUBACK %s, delivered %s; broker %s" % (
        out["suback"], out["puback"], out["delivered"], "alive" if out["alive"] else "DEAD")
    return out


def probe_deep_pub_hash(port, pid):
    """PUBLISH to a 10,000-level topic while someone is subscribed to '#'."""
    return _deep_pub(port, pid, PREFIX + "#")


def probe_deep_pub_match(port, pid):
    """PUBLISH to a 10,000-level topic with the same 10,000-level filter subscribed."""
    return _deep_pub(port, pid, deep())


def probe_retained_flood(port, pid, count=1000, size=250_000):
    """One login stores 1,000 retained messages of 250 KB on distinct topics."""
    out = {"rss_before_mb": rss_mb(pid)}
    c = m.Conn(HOST, port, timeout=30)
    c.connect("probe-retained-flood")
    payload = b"r" * size
    acked = 0
    t0 = time.monotonic()
    try:
        for i in range(count):
            c.publish(PREFIX + "flood/%d" % i, payload, qos=1, retain=True, pid=(i % 60000) + 1,
                      timeout=30)
            acked += 1
    except (m.Closed, socket.timeout) as e:
        out["stopped"] = str(e) or type(e).__name__
    out["secs"] = round(time.monotonic() - t0, 2)
    out["acked"] = acked
    c.disconnect()
    time.sleep(2)
    out["rss_after_mb"] = rss_mb(pid)
    out["alive"] = alive(port, pid)
    grow = None
    if out["rss_before_mb"] is not None and out["rss_after_mb"] is not None:
        grow = out["rss_after_mb"] - out["rss_before_mb"]
    out["rss_growth_mb"] = None if grow is None else round(grow, 1)
    out["summary"] = "%d/%d acked in %.1f s; RSS +%s MB; broker %s" % (
        acked, count, out["secs"], "?" if grow is None else "%.0f" % grow,
        "alive" if out["alive"] else "DEAD")
    return out


def probe_many_filters(port, pid, retained=20_000, filters=9_000):
    """20,000 retained messages present, then one SUBSCRIBE with 9,000 filters that match
    none of them; time to SUBACK, and the worst PING round trip of another client meanwhile."""
    out = {}
    c = m.Conn(HOST, port, timeout=30)
    c.connect("probe-retained-setup")
    batch = []
    for i in range(retained):
        batch.append(m.publish_packet(PREFIX + "ret/%d/v" % i, b"v", qos=0, retain=True))
        if len(batch) == 500:
            c.send(b"".join(batch))
            batch = []
    if batch:
        c.send(b"".join(batch))
    c.publish(PREFIX + "ret/sync", b"s", qos=1, pid=1, timeout=60)  # in order after the QoS 0 ones
    c.disconnect()
    time.sleep(1)

    stop = threading.Event()
    worst = [0.0, 0]

    def watcher():
        try:
            w = m.Conn(HOST, port, timeout=60)
            w.connect("probe-watcher")
            while not stop.is_set():
                t = time.monotonic()
                w.ping(timeout=120)
                worst[0] = max(worst[0], time.monotonic() - t)
                worst[1] += 1
                time.sleep(0.05)
            w.disconnect()
        except (m.Closed, socket.timeout, OSError):
            worst[0] = float("inf")

    th = threading.Thread(target=watcher, daemon=True)
    th.start()
    time.sleep(0.3)
    a = m.Conn(HOST, port, timeout=120)
    a.connect("probe-many-filters")
    flt = [(PREFIX + "ret/+/nomatch%d" % i, 0) for i in range(filters)]
    t0 = time.monotonic()
    try:
        codes = a.subscribe(7, flt, timeout=120)
        out["suback_secs"] = round(time.monotonic() - t0, 3)
        out["granted"] = sum(1 for x in codes if x != 0x80)
    except (m.Closed, socket.timeout) as e:
        out["suback_secs"] = None
        out["error"] = str(e) or type(e).__name__
    time.sleep(0.3)
    stop.set()
    th.join(timeout=130)
    a.disconnect()
    out["worst_other_ping_ms"] = None if worst[0] == float("inf") else round(worst[0] * 1000, 1)
    out["pings"] = worst[1]
    out["alive"] = alive(port, pid)
    out["summary"] = "SUBACK after %s s (%s granted); other client's worst PING %s ms; broker %s" % (
        out["suback_secs"], out.get("granted", "-"), out["worst_other_ping_ms"],
        "alive" if out["alive"] else "DEAD")
    return out


def probe_takeover(port, pid):
    """Login B connects with login A's client id (persistent session)."""
    out = {}
    a = m.Conn(HOST, port)
    _, rc_a = a.connect("probe-victim", clean=False, username="login-a", password="pw-a")
    a.subscribe(1, [(PREFIX + "victim/inbox", 1)])
    b = m.Conn(HOST, port)
    try:
        sp, rc_b = b.connect("probe-victim", clean=False, username="login-b", password="pw-b")
        out["b_connack"] = rc_b
        out["b_session_present"] = sp
    except (m.Closed, socket.timeout) as e:
        out["b_connack"] = "none (%s)" % (e or type(e).__name__)
        rc_b = None
    try:
        a.recv(timeout=2)
        out["a_kicked"] = False
    except m.Closed:
        out["a_kicked"] = True
    except socket.timeout:
        out["a_kicked"] = False
    p = m.Conn(HOST, port)
    p.connect("probe-takeover-pub")
    p.publish(PREFIX + "victim/inbox", b"for A only", qos=1, pid=1)
    p.disconnect()
    got = False
    if rc_b == 0:
        try:
            f, body = b.expect(m.PUBLISH, timeout=3)
            got = m.parse_publish(f, body)[1] == b"for A only"
        except (m.Closed, socket.timeout):
            got = False
    out["b_gets_a_messages"] = got
    a.close()
    b.disconnect()
    out["alive"] = alive(port, pid)
    if rc_b == 0:
        out["summary"] = "B accepted (session present=%s), A %s, B receives A's messages: %s" % (
            out["b_session_present"], "kicked" if out["a_kicked"] else "still connected",
            "yes" if got else "no")
    else:
        out["summary"] = "B refused (CONNACK %s), A %s" % (
            out["b_connack"], "kicked" if out["a_kicked"] else "still connected")
    return out


def probe_sessions(port, pid, count=3000, id_len=20_000):
    """3,000 persistent sessions (clean session 0, one subscription) with 20 KB client ids."""
    out = {"rss_before_mb": rss_mb(pid)}
    ok = refused = failed = 0
    t0 = time.monotonic()
    for i in range(count):
        cid = ("s%05d" % i) + "x" * (id_len - 6)
        try:
            c = m.Conn(HOST, port)
            _, rc = c.connect(cid, clean=False)
            if rc == 0:
                c.subscribe(1, [(PREFIX + "sess/%d" % i, 1)])
                ok += 1
            else:
                refused += 1
            c.disconnect()
        except (m.Closed, socket.timeout, OSError):
            failed += 1
    out["secs"] = round(time.monotonic() - t0, 1)
    time.sleep(2)
    out.update(ok=ok, refused=refused, failed=failed, rss_after_mb=rss_mb(pid))
    out["alive"] = alive(port, pid)
    grow = None
    if out["rss_before_mb"] is not None and out["rss_after_mb"] is not None:
        grow = out["rss_after_mb"] - out["rss_before_mb"]
    out["rss_growth_mb"] = None if grow is None else round(grow, 1)
    out["summary"] = "%d stored, %d refused, %d failed in %.0f s; RSS +%s MB; broker %s" % (
        ok, refused, failed, out["secs"], "?" if grow is None else "%.0f" % grow,
        "alive" if out["alive"] else "DEAD")
    return out


PROBES = {
    "deep_sub": probe_deep_sub,
    "deep_pub_hash": probe_deep_pub_hash,
    "deep_pub_match": probe_deep_pub_match,
    "retained_flood": probe_retained_flood,
    "many_filters": probe_many_filters,
    "takeover": probe_takeover,
    "sessions": probe_sessions,
}


def wait_port(port, secs=30):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--start", help="command starting a fresh broker per probe; {port} is replaced")
    ap.add_argument("--pid", type=int, help="broker process for VmRSS when --start is not given")
    ap.add_argument("--only", help="comma-separated probe names: " + ",".join(PROBES))
    ap.add_argument("--name", default="broker", help="label for the output")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--prefix", default="", help="put before every topic and filter")
    args = ap.parse_args()
    global PREFIX
    PREFIX = args.prefix
    names = args.only.split(",") if args.only else list(PROBES)
    results = {}
    for name in names:
        proc = None
        pid = args.pid
        if args.start:
            cmd = [a.replace("{port}", str(args.port)) for a in shlex.split(args.start)]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            pid = proc.pid
            if not wait_port(args.port):
                proc.kill()
                sys.exit("broker did not start: %s" % args.start)
            time.sleep(0.5)
        print("-- %s: %s" % (args.name, name), file=sys.stderr, flush=True)
        try:
            r = PROBES[name](args.port, pid)
        except (OSError, m.Closed, socket.timeout) as e:
            r = {"summary": "probe error: %s" % (e or type(e).__name__),
                 "alive": alive(args.port, pid)}
        if proc is not None:
            r["exit_code"] = proc.poll()
            if r["exit_code"] is not None and r["exit_code"] < 0:
                r["summary"] += " (killed by signal %s)" % signal.Signals(-r["exit_code"]).name
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            time.sleep(0.5)
        results[name] = r
        print("| %s | %s | %s |" % (args.name, name, r["summary"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
