#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/) from the samples the
tests already use: the raw string literals of the named source files that look like the
target's input. Run it again when those tests gain samples; scripts/fuzz starts each run
from these seeds."""
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
RAW = re.compile(r'r(#+)"(.*?)"\1', re.S)


def raw_strings(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    return [m.group(2) for m in RAW.finditer(text)]


def write(target, samples, prefix=b""):
    out = ROOT / "fuzz" / "seeds" / target
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in samples:
        data = prefix + (s if isinstance(s, bytes) else s.encode("utf-8"))
        name = hashlib.sha1(data).hexdigest()[:16]
        (out / name).write_bytes(data)
        n += 1
    return n


def like(samples, *needles):
    return [s for s in samples if any(n in s for n in needles)]


# MQTT 3.1.1 packets (OASIS MQTT 3.1.1, section 3), for the broker's targets.
def _varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return len(b).to_bytes(2, "big") + b


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


def mqtt_connect(client_id, user=None, password=None, clean=True, keep_alive=60,
                 will=None, level=4, name="MQTT", v5=False):
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0)
    flags |= 0x40 if password is not None else 0
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
    body = _str(name) + bytes([level, flags]) + keep_alive.to_bytes(2, "big")
    body += b"\x00" if v5 else b""  # MQTT 5: an empty property list
    body += _str(client_id)
    if will:
        body += (b"\x00" if v5 else b"") + _str(topic) + _str(message)
    if user is not None:
        body += _str(user)
    if password is not None:
        body += _str(password)
    return _packet(0x10, body)


def mqtt_publish(topic, payload, qos=0, retain=False, pkid=1, dup=False):
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = _str(topic) + (pkid.to_bytes(2, "big") if qos else b"") + payload
    return _packet(first, body)


def mqtt_subscribe(pkid, *filters):
    body = pkid.to_bytes(2, "big") + b"".join(_str(f) + bytes([q]) for f, q in filters)
    return _packet(0x82, body)


def mqtt_unsubscribe(pkid, *filters):
    return _packet(0xA2, pkid.to_bytes(2, "big") + b"".join(_str(f) for f in filters))


def mqtt_ack(kind, pkid):
    first = {"puback": 0x40, "pubrec": 0x50, "pubrel": 0x62, "pubcomp": 0x70}[kind]
    return _packet(first, pkid.to_bytes(2, "big"))


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


def mqtt_sessions():
    """(login pick, packets after CONNECT) for the broker's targets: the picks are those of
    src/fuzz.rs (1 superuser `dispatch`, 2 responder `w1`, 3 source `cam`)."""
    task = b'{"status":"accepted","version":1}'
    return [
        (1, [mqtt_subscribe(1, ("#", 1), ("dispatch/+/tasks/#", 2)),
             mqtt_publish("dispatch/w1/tasks/t1", b'{"task":"t1"}', qos=1, pkid=2),
             mqtt_publish("alerts/cam", b'{"kind":"fire"}', qos=2, pkid=3, retain=True),
             mqtt_ack("pubrel", 3), mqtt_ack("puback", 1), PINGREQ,
             mqtt_unsubscribe(4, "#"), DISCONNECT]),
        (2, [mqtt_subscribe(1, ("dispatch/w1/#", 1), ("owntracks/w1/+/cmd", 0),
                            ("dispatch/w2/#", 1)),
             mqtt_publish("dispatch/w1/tasks/t1/update", task, qos=1, pkid=2),
             mqtt_publish("dispatch/w1/duty/set", b'{"on_duty":true}', qos=0),
             mqtt_publish("owntracks/w1/phone", b'{"_type":"location","lat":39.5,"lon":106.7}',
                          qos=1, pkid=3, retain=True),
             mqtt_publish("dispatch/w2/tasks/t9/update", task, qos=2, pkid=4),
             mqtt_ack("pubrel", 4), PINGREQ, DISCONNECT]),
        (3, [mqtt_publish("alerts/cam", b'{"kind":"smoke","lat":39.5,"lon":106.7}', qos=1),
             mqtt_publish("frigate/events", b'{"type":"new","after":{}}', qos=0, retain=True),
             mqtt_subscribe(5, ("alerts/cam/#", 1), ("frigate/+/detect/state", 0)),
             mqtt_publish("gb28181/alarm", b"<Notify/>", qos=2, pkid=6),
             mqtt_publish("gb28181/alarm", b"<Notify/>", qos=2, pkid=6, dup=True),
             mqtt_ack("pubrel", 6), PINGREQ]),
        (1, [mqtt_publish("a/b", b"x" * 200, qos=1, pkid=n) for n in range(1, 12)]),
    ]


def mqtt_streams():
    """Whole client streams, CONNECT included: each login of src/fuzz.rs, none, a wrong
    password, a will, a kept session, and the CONNECTs the broker refuses (MQTT 5, MQTT 3.1,
    the reserved flag, an empty client id on a kept session)."""
    logins = {1: "dispatch", 2: "r:w1", 3: "s:cam"}
    streams = [
        mqtt_connect(f"c{pick}", logins[pick], "pw", clean=(n % 2 == 0)) + b"".join(rest)
        for n, (pick, rest) in enumerate(mqtt_sessions())
    ]
    will = ("owntracks/w1/phone/event", b'{"_type":"transition"}', 1, True)
    streams += [
        mqtt_connect("anon") + PINGREQ + DISCONNECT,
        mqtt_connect("w1", "r:w1", "wrong") + PINGREQ,
        mqtt_connect("w1", "r:w1", "pw", will=will, keep_alive=0) + PINGREQ,
        mqtt_connect("", "s:cam", "pw", clean=False),
        mqtt_connect("", "s:cam", "pw") + PINGREQ + DISCONNECT,
        mqtt_connect("v5", "dispatch", "pw", level=5, v5=True) + PINGREQ,
        mqtt_connect("v31", "dispatch", "pw", level=3, name="MQIsdp") + PINGREQ,
        bytearray(mqtt_connect("rsv", "dispatch", "pw")),
        PINGREQ + mqtt_connect("late", "dispatch", "pw"),
    ]
    streams[-2][9] |= 0x01  # the reserved connect flag
    return [bytes(s) for s in streams]


# WebSocket (RFC 6455) as a browser's MQTT client sends it, for the `websocket` target.
WS_UPGRADE = (
    "GET /mqtt HTTP/1.1\r\nHost: localhost:8884\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    "{protocol}\r\n"
)


def ws_upgrade(protocol="mqtt"):
    line = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else ""
    return WS_UPGRADE.format(key="c2VlZHMgZm9yIHRoZSBmdXp6", protocol=line).encode()


def ws_frame(opcode, payload, fin=True, mask=b"\x9a\x03\x5c\xe1"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_frames():
    """Frame sequences after the upgrade: MQTT in binary frames (whole, fragmented, several
    packets in one), pings, a text frame (refused), closes."""
    connect = mqtt_connect("ws1", "r:w1", "pw")
    sub = mqtt_subscribe(1, ("dispatch/w1/#", 1))
    pub = mqtt_publish("dispatch/w1/tasks/t1/update", b'{"status":"accepted"}', qos=1)
    close = ws_frame(0x8, (1000).to_bytes(2, "big") + b"bye")
    return [
        ws_frame(0x2, connect) + ws_frame(0x2, sub) + ws_frame(0x2, pub)
        + ws_frame(0x9, b"ping") + ws_frame(0x2, PINGREQ) + close,
        ws_frame(0x2, connect[:5], fin=False) + ws_frame(0x0, connect[5:], fin=False)
        + ws_frame(0x9, b"") + ws_frame(0x0, b"", fin=True) + ws_frame(0x2, sub + pub),
        ws_frame(0x2, connect) + ws_frame(0x1, "主题".encode()),
        ws_frame(0x2, connect) + ws_frame(0xA, b"pong") + ws_frame(0x8, b""),
        ws_frame(0x2, mqtt_connect("ws2", "dispatch", "pw") + mqtt_subscribe(2, ("#", 1)))
        + ws_frame(0x2, mqtt_publish("alerts/cam", b"{}", qos=1, retain=True)),
    ]


def ws_pieces(packets):
    """MQTT bytes cut into the length-prefixed pieces of the `websocket` target's third
    form (a valid CONNECT is put first by the target itself)."""
    data, out = b"".join(packets), b""
    while data:
        piece, data = data[:37], data[37:]
        out += bytes([len(piece)]) + piece
    return out


def main():
    counts = {}
    counts["alert_json"] = write(
        "alert_json",
        like(raw_strings("src/domain/alert.rs") + raw_strings("src/ingest/mod.rs"), '"kind"'),
    )
    updates = [
        '{"status":"accepted","version":1}',
        '{"status":"on_scene","version":3,"lat":39.5,"lon":106.7}',
        '{"status":"resolved","version":4,"note":"已处理"}',
        '{"status":"rejected","note":"不在附近"}',
    ]
    counts["phone_json"] = (
        write("phone_json", updates, b"\x00")
        + write("phone_json", ['{"minutes":30,"reason":"等物业开门"}'], b"\x01")
        + write("phone_json", ['{"on_duty":true}', '{"on_duty":false}'], b"\x02")
    )
    counts["owntracks"] = write(
        "owntracks", like(raw_strings("src/ingest/owntracks.rs"), '"_type"', "lat")
    )
    counts["frigate_event"] = write(
        "frigate_event", like(raw_strings("src/ingest/frigate.rs"), '"type"', '"after"')
    )
    status = raw_strings("src/domain/camera_health.rs")
    counts["frigate_status"] = write("frigate_status", ["ON", "OFF"] + status, b"\x00") + write(
        "frigate_status", ["online", "offline"], b"\x01"
    )
    gb = like(
        raw_strings("src/ingest/gb28181.rs") + raw_strings("tests/it/gb28181.rs"), "<?xml", "<Notify"
    )
    # The same documents as a GB18030 device sends them.
    gb18030 = [
        s.replace('encoding="UTF-8"', 'encoding="GB18030"').encode("gb18030")
        for s in gb
        if 'encoding="UTF-8"' in s
    ]
    counts["gb28181"] = write("gb28181", gb + gb18030)
    onvif = like(raw_strings("src/ingest/onvif/fixtures.rs"), "<")
    counts["onvif_metadata"] = write("onvif_metadata", onvif)
    rtp = []
    for doc in onvif[:4]:
        body = doc.encode("utf-8")
        half = len(body) // 2
        packets = b""
        for seq, (part, marker) in enumerate([(body[:half], 0), (body[half:], 1)]):
            packets += len(part).to_bytes(2, "big") + seq.to_bytes(2, "big")
            packets += (90000).to_bytes(4, "big") + bytes([marker]) + part
        rtp.append(packets)
    counts["rtp_reassembly"] = write("rtp_reassembly", rtp)
    # The camera tests build their files in code; these are the same shapes.
    csv = [
        "\ufeffname,id,lon,lat,heading,fov,onvif_metadata,gb28181_id,zone_id\r\n"
        "East,cam-e,106.70,39.50,90,60,,34020000001320000001,g1\r\n"
        "West,cam-w,106.69,39.49,,,rtsp://10.0.0.9/meta,,\r\n",
        "id,name,lat,lon,colour,gb28181_id\nc1,Gate,39.5,106.7,red,\nc2,,91,0,,x\n",
    ]
    geo = [
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
        '{"type":"Point","coordinates":[106.70,39.50]},"properties":{"id":"cam-1",'
        '"name":"乌达区 滨河路口","heading":90,"fov":60}}]}'
    ]
    counts["camera_import"] = write("camera_import", csv, b"\x00") + write(
        "camera_import", geo, b"\x01"
    )
    zones = like(
        raw_strings("src/http/zones.rs") + raw_strings("tests/it/api.rs"), '"Polygon"', '"Feature"'
    )
    zones.append(
        '{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.69,39.49],'
        '[106.70,39.49],[106.70,39.50],[106.69,39.50],[106.69,39.49]]]},'
        '"properties":{"id":"g1","name":"三完小社区网格","kind":"grid"}}'
    )
    counts["zone_geojson"] = write("zone_geojson", zones)
    counts["settings_toml"] = write(
        "settings_toml",
        [(ROOT / "config" / "default.toml").read_text(encoding="utf-8")]
        + like(raw_strings("src/config/tests.rs"), "=")
        + [
            '[reports]\nutc_offset = "+05:30"\nkeep_months = 3\n',
            '[points]\nearning_kinds = ["volunteer", "grid_worker"]\nmonthly_cap = 0\n',
            '[database]\nurl = "sqlite://griddispatch.db"\n[mqtt]\nlisten = ""\n',
        ],
    )
    counts["mqtt_broker"] = write("mqtt_broker", mqtt_streams(), b"\x00") + sum(
        write("mqtt_broker", [b"".join(rest)], bytes([pick])) for pick, rest in mqtt_sessions()
    )
    frames = ws_frames()
    counts["websocket"] = (
        write("websocket", [ws_upgrade() + f for f in frames[:2]], b"\x00")
        + write("websocket", [ws_upgrade(None) + frames[0], ws_upgrade("mqttv3.1, foo")
                              + frames[3], ws_upgrade("wamp") + frames[0]], b"\x00")
        + write("websocket", frames, b"\x01")
        + write("websocket", [ws_pieces(rest) for _, rest in mqtt_sessions()[1:3]], b"\x02")
    )
    for target, n in sorted(counts.items()):
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
