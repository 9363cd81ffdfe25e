"""Serves web/ (the demo page and the site script) on its own origin for `make dev`.

`/config.js` is generated: it hands the page the function URLs of this stack, which a
production page would write as data attributes on its script tag. Every response
carries a strict Content-Security-Policy, so the demo proves the script needs no
inline code, talks only to the function URLs and Google's tag, and runs its
proof-of-work solver as a worker from the site's own origin.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parent.parent / "web"
GOOGLE_TAG_SOURCES = "https://*.googletagmanager.com"
GOOGLE_ANALYTICS_HOSTS = (
    "https://*.google-analytics.com https://*.analytics.google.com https://*.googletagmanager.com"
)
SCRIPTS = ("factoryops.js", "factoryops-pow.js")
"""The scripts a visitor downloads: the site script and its proof-of-work solver."""
SCRIPT_BEFORE_SOLVER_GZIP = 13_791
"""Bytes of factoryops.js gzipped before the proof of work joined it (level 6)."""
SOLVER_BUDGET_GZIP = 8 * 1024
"""Bytes gzipped the proof of work may add to what a visitor downloads."""


def gzipped_sizes() -> dict[str, int]:
    """Each script's size gzipped at level 6, the usual default of web servers and CDNs."""
    return {name: len(gzip.compress((WEB / name).read_bytes(), 6)) for name in SCRIPTS}


@dataclass
class SiteConfig:
    """What the page's script is configured with; the test may change it between loads."""

    contact_url: str
    chat_url: str
    access_url: str
    ga_id: str = ""
    privacy_url: str = "https://factoryopsai.com/privacy"
    chat_poll_ms: int = 0

    def script(self) -> str:
        values: dict[str, Any] = {
            "contactUrl": self.contact_url,
            "chatUrl": self.chat_url,
            "accessUrl": self.access_url,
            "gaId": self.ga_id,
            "privacyUrl": self.privacy_url,
        }
        if self.chat_poll_ms:
            values["chatPollMs"] = self.chat_poll_ms
        return f"window.FactoryOpsConfig = {json.dumps(values, indent=2)};\n"

    def content_security_policy(self) -> str:
        functions = sorted(
            {_origin(u) for u in (self.contact_url, self.chat_url, self.access_url) if u}
        )
        return "; ".join(
            [
                "default-src 'self'",
                f"script-src 'self' {GOOGLE_TAG_SOURCES}",
                f"connect-src 'self' {' '.join(functions)} {GOOGLE_ANALYTICS_HOSTS}",
                # The site script's proof-of-work solver, web/factoryops-pow.js: no blob:.
                "worker-src 'self'",
                f"img-src 'self' data: {GOOGLE_ANALYTICS_HOSTS}",
                "style-src 'self'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ]
        )


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _Handler(SimpleHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path == "/config.js":
            data = self.server.config.script().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", self.server.config.content_security_policy())
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # A per-lead link of the old shape arrives as `?access=<token>` (today's keep it
        # in the fragment, which no browser sends): log the path, never the query.
        path = urllib.parse.urlsplit(self.path).path
        self.log_message('"%s %s" %s %s', self.command, path, code, size)


class Site(ThreadingHTTPServer):
    """The demo site on `host:port` (0: a free port), served from a thread or the caller."""

    daemon_threads = True

    def __init__(
        self, config: SiteConfig, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False
    ) -> None:
        handler = functools.partial(_Handler, directory=str(WEB))
        super().__init__((host, port), handler)
        self.config = config
        self.quiet = quiet
        self.port = int(self.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> Site:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--contact-url", default="http://127.0.0.1:8081/")
    parser.add_argument("--chat-url", default="http://127.0.0.1:8082/")
    parser.add_argument("--access-url", default="http://127.0.0.1:8083/")
    parser.add_argument(
        "--ga-id",
        default="G-DEMO000000",
        help="GA4 measurement id; Google's tag is requested only after a visitor accepts",
    )
    args = parser.parse_args()
    config = SiteConfig(
        contact_url=args.contact_url,
        chat_url=args.chat_url,
        access_url=args.access_url,
        ga_id=args.ga_id,
    )
    server = Site(config, args.host, args.port)
    print(f"serving web/ on http://{args.host}:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
