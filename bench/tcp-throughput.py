#!/usr/bin/env python3
"""TCP throughput between two endpoints, for bench/network.sh.

    tcp-throughput.py sink PORT            # accept connections, read and drop everything
    tcp-throughput.py send HOST PORT MiB   # send MiB mebibytes, print Gbit/s
"""
import socket
import sys
import time

CHUNK = 1 << 20


def sink(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(8)
    buf = bytearray(CHUNK)
    while True:
        conn, _ = srv.accept()
        with conn:
            while conn.recv_into(buf):
                pass
            conn.sendall(b"k")


def send(host, port, mib):
    data = b"\0" * CHUNK
    s = socket.create_connection((host, port))
    start = time.perf_counter()
    for _ in range(mib):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the sink has read everything
    secs = time.perf_counter() - start
    print(f"{mib * CHUNK * 8 / secs / 1e9:.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
