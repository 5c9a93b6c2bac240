#!/usr/bin/env python3
"""Derive the expected flow table of a capture from tshark's own decode.

tshark prints, per frame, its protocol stack and every occurrence of the
address, port and VNI fields; this script folds the frames into flows with
the rules of report-schema.md, so that overlay-trace's `flows` section can be
compared with an independent decoder:

  * the flow key is the innermost tuple (the first IP/ARP layer after the
    last VXLAN/Geneve header, or the first one when there is no tunnel) in
    either direction, plus each tunnel level's kind, VNI and outer address
    pair in either order;
  * "fwd" is the direction of the flow's first frame; the tunnel's outer
    tuple is the one its first frame had;
  * bytes are frame.len (the original frame length, outer headers included).
  * frames without an IP or ARP layer belong to no flow.

Usage: tshark_flows.py CAPTURE [TSHARK_ARGS...] > GOLDEN.json
Extra arguments go to tshark, e.g. `-d udp.port==8472,vxlan`.
"""
import json
import subprocess
import sys

FIELDS = [
    "frame.number", "frame.len", "frame.protocols",
    "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
    "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
    "vxlan.vni", "geneve.vni",
]
TUNNELS = {"vxlan": "vxlan", "geneve": "geneve"}
NET = {"ip", "ipv6", "arp"}
PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


def run_tshark(path, extra):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
           "-E", "separator=\t"] + extra
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        yield {k: (v.split("|") if v else []) for k, v in zip(FIELDS, cols)}


def frame_flow(row):
    """(inner tuple, [tunnel levels]) of one frame, or None."""
    tokens = row["frame.protocols"][0].split(":") if row["frame.protocols"] else []
    count = {}
    layers = []  # (token, occurrence index)
    for t in tokens:
        layers.append((t, count.get(t, 0)))
        count[t] = count.get(t, 0) + 1
        if t in ("icmp", "icmpv6"):
            break  # what follows is the quoted packet inside an ICMP error
    last_tunnel = max((i for i, (t, _) in enumerate(layers) if t in TUNNELS), default=-1)
    tunnels = []
    for i, (t, k) in enumerate(layers):
        if t not in TUNNELS:
            continue
        ip_i = max(j for j in range(i) if layers[j][0] in ("ip", "ipv6"))
        udp_i = max(j for j in range(i) if layers[j][0] == "udp")
        tunnels.append({
            "kind": TUNNELS[t],
            "vni": int(row[f"{t}.vni"][k], 0),
            "outer": endpoint_pair(row, layers[ip_i], ("udp", layers[udp_i][1]), 17),
        })
    net = next(((i, l) for i, l in enumerate(layers) if i > last_tunnel and l[0] in NET), None)
    if net is None:
        return None
    i, (t, k) = net
    if t == "arp":
        return {"proto": "arp", "src": row["arp.src.proto_ipv4"][k], "src_port": None,
                "dst": row["arp.dst.proto_ipv4"][k], "dst_port": None}, tunnels
    nxt = next((l for l in layers[i + 1:] if not l[0].startswith("ipv6.")), None)
    if t == "ip":
        proto = int(row["ip.proto"][k])
    else:
        proto = {"tcp": 6, "udp": 17, "icmpv6": 58}.get(nxt[0] if nxt else "", -1)
    transport = nxt if nxt and nxt[0] in ("tcp", "udp") else None
    return endpoint_pair(row, (t, k), transport, proto), tunnels


def endpoint_pair(row, ip, transport, proto):
    t, k = ip
    src, dst = row[f"{t}.src"][k], row[f"{t}.dst"][k]
    sp = dp = None
    if transport:
        sp = int(row[f"{transport[0]}.srcport"][transport[1]])
        dp = int(row[f"{transport[0]}.dstport"][transport[1]])
    return {"proto": PROTO_NAMES.get(proto, str(proto)), "src": src, "src_port": sp, "dst": dst, "dst_port": dp}


def key_of(inner, tunnels):
    a = (inner["src"], inner["src_port"] or 0)
    b = (inner["dst"], inner["dst_port"] or 0)
    tk = tuple((t["kind"], t["vni"], *sorted([t["outer"]["src"], t["outer"]["dst"]])) for t in tunnels)
    return (inner["proto"], *sorted([a, b])), tk


def main():
    path, extra = sys.argv[1], sys.argv[2:]
    flows, order = {}, []
    for row in run_tshark(path, extra):
        got = frame_flow(row)
        if got is None:
            continue
        inner, tunnels = got
        key = key_of(inner, tunnels)
        f = flows.get(key)
        if f is None:
            f = flows[key] = {
                **inner,
                "tunnel": None if not tunnels else {
                    "kind": tunnels[-1]["kind"], "vni": tunnels[-1]["vni"],
                    "outer_src": tunnels[-1]["outer"]["src"], "outer_src_port": tunnels[-1]["outer"]["src_port"],
                    "outer_dst": tunnels[-1]["outer"]["dst"], "outer_dst_port": tunnels[-1]["outer"]["dst_port"],
                },
                "tunnel_depth": len(tunnels),
                "packets_fwd": 0, "packets_rev": 0, "bytes_fwd": 0, "bytes_rev": 0,
            }
            order.append(key)
        fwd = inner["src"] == f["src"] and inner["src_port"] == f["src_port"] and inner["dst"] == f["dst"]
        d = "fwd" if fwd else "rev"
        f["packets_" + d] += 1
        f["bytes_" + d] += int(row["frame.len"][0])
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    json.dump({"tshark": version, "tshark_args": extra, "flows": [flows[k] for k in order]}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
