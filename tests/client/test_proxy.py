"""`--proxy socks5://…` (Tor) is usable: the SOCKS support is installed and requests go to it."""

import contextlib
import socket
import threading

import httpx


def test_socks5_proxy_receives_the_onion_name_not_a_dns_lookup() -> None:
    """A fake SOCKS5 proxy sees the CONNECT request carrying the host name itself."""
    seen: list[bytes] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(16)  # greeting: version, methods
                conn.sendall(b"\x05\x00")  # no authentication
                seen.append(conn.recv(512))  # the CONNECT request
                conn.sendall(b"\x05\x01\x00\x01" + bytes(6))  # general failure

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        # The fake proxy refuses; only the request it received matters.
        with (
            httpx.Client(proxy=f"socks5://127.0.0.1:{port}", timeout=5) as client,
            contextlib.suppress(httpx.HTTPError),
        ):
            client.get("http://exampleonionaddressxyz.onion/v1/health")
        thread.join(timeout=5)
    assert seen, "the client never spoke SOCKS5 to the proxy"
    request = seen[0]
    assert request[:4] == b"\x05\x01\x00\x03"  # CONNECT to a domain name (ATYP 3)
    assert b"exampleonionaddressxyz.onion" in request
