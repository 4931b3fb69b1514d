"""Inside a `sam local` container: 127.0.0.1:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, forwarded.

In Lambda the AWS Parameters and Secrets Extension is a process in the function's own sandbox,
so podgate's SecretsClient calls http://127.0.0.1:<port>. `sam local` cannot download that layer,
and its containers sit on Docker's bridge network (SAM 1.170 ignores `--docker-network host`),
so 127.0.0.1 there is the container itself. This forwarder plays the extension's part in the
sandbox: it listens on 127.0.0.1:<port> and relays every connection, byte for byte, to the same
port on the container's default gateway, where tests/sam/run_sam_local.py runs the local stack's
secrets-extension emulator. Token checks, caching and errors stay the emulator's.

Started by the image's bootstrap wrapper before the runtime. It binds, then forks: the parent
returns once the port is listening, so the function's first request cannot race it. If the port
is taken (the runtime restarted in a warm container), one is already running: exit 0.

Standard library only: it runs on the image's Python, before any layer is importable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import sys
import threading


def default_gateway() -> str:
    with open("/proc/net/route") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000" and int(fields[3], 16) & 2:
                return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    raise RuntimeError("no default route in /proc/net/route")


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def relay(client: socket.socket, upstream: tuple[str, int]) -> None:
    try:
        server = socket.create_connection(upstream, timeout=5)
    except OSError as exc:
        print(f"[extension-forwarder] {upstream[0]}:{upstream[1]} unreachable: {exc}", file=sys.stderr)
        client.close()
        return
    server.settimeout(None)
    back = threading.Thread(target=pipe, args=(server, client), daemon=True)
    back.start()
    pipe(client, server)
    back.join()
    client.close()
    server.close()


def main() -> int:
    port = int(sys.argv[1])
    upstream = (default_gateway(), port)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return 0  # a forwarder from an earlier runtime start in this container
        raise
    listener.listen(64)
    if os.fork() > 0:
        return 0  # parent: the port is listening; the runtime may start
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # stderr stays: failures show in the function's log
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
