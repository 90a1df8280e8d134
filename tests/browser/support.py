"""Helpers for the browser tests: Debian's Chromium, screenshots, a photo, the page's controls.

`SourcePage` is the one place that knows the page's controls: the stable ids and
data-testids documented at the top of web/src/page.js. Tests speak of steps (fill in the
report, attach, submit, check for replies) and read what the page shows.
"""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

#: Debian's chromium (`apt-get install chromium`; .ci/run installs it).
CHROMIUM = Path("/usr/bin/chromium")
#: The largest upload the shared org's server takes (TVAULT_MAX_UPLOAD_BYTES): the
#: test's photo seals to about 10 KiB, a file of this size seals to more.
MAX_UPLOAD = 64 * 1024
#: How long a step that seals, derives a codename or uploads may take on a loaded machine.
SLOW_MS = 90_000


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium by its path; missing, the test fails (it never skips)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get install chromium; .ci/run installs it)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)


@dataclass
class Shots:
    """Numbered full-page screenshots of one test's steps, in ``directory``."""

    directory: Path
    taken: int = 0

    @classmethod
    def for_test(cls, root: Path, test_name: str) -> Shots:
        directory = root / re.sub(r"[^\w.-]+", "_", test_name)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        print(f"screenshots: {directory}")
        return cls(directory)

    def take(self, page: Page, step: str) -> Path:
        self.taken += 1
        path = self.directory / f"{self.taken:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG (RGB, a gradient), so the photo is a real image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (40 * x, 60 * y, 200))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --- the page ------------------------------------------------------------------------------

#: What the person types in Korean; the report the caseworker opens must hold exactly this.
KOREAN_FORM = {
    "detainee-name-hangul": "김영희",
    "detainee-name-roman": "Kim Young-hee",
    "detainee-birth": "1990-07",
    "detainee-hometown": "함경북도 회령시",
    "source-relationship": "언니",
    "source-last-contact": "2024-04",
    "narrative": "동생이 2024년 5월 중국 공안에 체포되었습니다.\n그 뒤로 소식이 없습니다.",
}
KOREAN_EVENT = {
    "start": "2024-05-14",
    "facility": "도문 변방대 구류소",
    "unit": "중국 공안",
    "description": "이웃에게서 들었습니다.",
}


class SourcePage:
    """The source page's controls, by the ids page.html gives them."""

    def __init__(self, page: Page, shots: Shots) -> None:
        self.page = page
        self.shots = shots
        #: Uncaught exceptions and console errors (a CSP violation is one), in order.
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location["url"]
        # Chromium asks for /favicon.ico by itself; the page does not.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            self.problems.append(f"console: {message.text} ({url})")

    def shot(self, step: str) -> Path:
        return self.shots.take(self.page, step)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.locator("html[data-ready=true]").wait_for()

    @property
    def language(self) -> str | None:
        return self.page.locator("html").get_attribute("lang")

    def fill_report(self, fingerprint: str | None, *, narrative: str | None = None) -> None:
        """Fill in the Korean report: `fingerprint` into its field when given (a built page
        may have it already), one event, the knowledge radio and a consent."""
        page = self.page
        if fingerprint is not None:
            page.fill("#org-fingerprint", fingerprint)
        for control, value in KOREAN_FORM.items():
            page.fill(f"#{control}", value)
        if narrative is not None:
            page.fill("#narrative", narrative)
        page.select_option("#detainee-sex", "female")
        page.check("#source-knowledge-hearsay")
        page.check("#consent-recontact")
        page.click("#event-add")
        page.select_option("#event-0-kind", "arrest")
        for name, value in KOREAN_EVENT.items():
            page.fill(f"#event-0-{name}", value)

    def attach(self, *files: Path) -> None:
        self.page.set_input_files("#attachments", [str(f) for f in files])

    def submit(self) -> None:
        self.page.click("#submit")

    def codename(self) -> str:
        """The codename once the submission is done (the receipt shown, checked)."""
        self.page.locator("#receipt").filter(has_text=re.compile(r"\d")).wait_for(timeout=SLOW_MS)
        return self.page.locator("#codename").inner_text().strip()

    def error(self, timeout: float = SLOW_MS) -> tuple[str | None, str]:
        """The page's alert once it shows one: the failure's code (its data-code) and the
        message a person reads."""
        alert = self.page.locator("#error")
        alert.wait_for(state="visible", timeout=timeout)
        return alert.get_attribute("data-code"), alert.inner_text().strip()

    def check_replies(self, codename: str) -> list[str]:
        """In the "check for replies" view, enter `codename`; the replies' texts."""
        page = self.page
        page.click("#view-replies")
        page.fill("#replies-codename", codename)
        page.click("#replies-check")
        page.locator("#replies-result").wait_for(state="visible", timeout=SLOW_MS)
        return [item.inner_text() for item in page.locator("#reply-list > li").all()]

    def add_information(self, name: str, relationship: str, text: str) -> None:
        """In the replies view, after a check: send a follow-up, and wait until it is added."""
        page = self.page
        page.fill("#followup-name", name)
        page.fill("#followup-relationship", relationship)
        page.fill("#followup-text", text)
        page.click("#followup-send")
        page.locator("#followup-done").wait_for(state="visible", timeout=SLOW_MS)
