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
    for target, n in sorted(counts.items()):
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
