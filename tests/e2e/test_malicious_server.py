"""A malicious server is caught: the real CLIs against a tampering proxy (tests/e2e/tamper.py)
in front of a real `tvault serve --dev`, on SQLite and on PostgreSQL.

The proxy holds no key anyone trusts, exactly like a compromised server: it can serve any
bytes it likes, but a swapped payload, a substituted reply key, a forged reply and a fetch
served without its log entry must each end the CLI with exit 1, a message saying what was
wrong, and nothing written.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.sourcing import wordlist
from crypto import age, envelope, messages, roster
from crypto.codename import CodenameKeys, derive, parse
from crypto.errors import CryptoError
from crypto.profile import weak_test_profile
from tests.api.conftest import RunningServer
from tests.e2e.support import INTAKE, Cli, StaffedOrg, korean_report, set_up_staff
from tests.e2e.tamper import Exchange, TamperProxy, flip_byte
from vault.report import Report, encode_report

# -- the proxy itself ------------------------------------------------------------------------


def test_the_proxy_forwards_and_rewrites(served: tuple[RunningServer, str]) -> None:
    server, _ = served
    with TamperProxy(server.base_url) as proxy, httpx.Client(base_url=proxy.base_url) as client:
        health = httpx.get(f"{server.base_url}/v1/health").json()
        assert client.get("/v1/health").json() == health
        # A request body and a problem response go through unchanged.
        body = {"username": "nobody", "password": "wrong", "totp_code": "000000"}
        refused = client.post("/v1/auth/login", json=body)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        no_org = client.get("/v1/org")
        assert no_org.status_code == 404
        assert no_org.json() == httpx.get(f"{server.base_url}/v1/org").json()

        proxy.rewrite_json("GET", r"/v1/h.alth", lambda body: {**body, "status": "evil"})

        def other(exchange: Exchange) -> Exchange:
            return exchange.with_body(exchange.upstream("GET", "/v1/health").content)

        proxy.rewrite("GET", r"/v1/log/checkpoint", other)
        assert client.get("/v1/health").json() == {**health, "status": "evil"}
        assert client.get("/v1/log/checkpoint").json() == health
        assert httpx.get(f"{server.base_url}/v1/health").json() == health
        # Only a whole-path match is rewritten, and a problem is left alone by rewrite_json.
        proxy.rewrite_json("GET", r"/v1/org", lambda body: {"evil": True})
        assert client.get("/v1/org").json() == no_org.json()
        assert client.get("/v1/healthy").status_code == 404
        assert ("POST", "/v1/auth/login") in proxy.seen

        proxy.clear()
        assert client.get("/v1/health").json() == health


def test_flip_byte() -> None:
    assert flip_byte(b"\x00\x01\x02", 1) == b"\x00\xfe\x02"
    assert flip_byte(b"\x00\x01\x02", -1) == b"\x00\x01\xfd"


# -- the scene: an org whose every member talks to the proxy -----------------------------------


@dataclass
class Scene:
    org: StaffedOrg
    proxy: TamperProxy

    @property
    def cli(self) -> Cli:
        return self.org.cli

    def submit(self, home: str, narrative: str) -> dict[str, Any]:
        """A Korean report from a source of its own `home`; what `tvault submit` printed."""
        report = korean_report(self.org.tmp_path / f"{home}.json", self.cli, narrative=narrative)
        return self.org.submit(report, home=home)

    def public_roster(self) -> dict[str, Any]:
        """The public roster's document, checked against the org key (as any client does)."""
        served = httpx.get(f"{self.proxy.upstream}/v1/org").json()
        key = base64.b64decode(served["public_key"])
        opened = roster.open_roster(served["roster"].encode(), org_public_key=key, kind="public")
        document: dict[str, Any] = opened.document
        return document

    def staff_id(self) -> str:
        """The intake caseworker's opaque id, as the public roster names it."""
        (member,) = self.public_roster()["intake"]
        return str(member["id"])

    def keys_of(self, codename: str) -> CodenameKeys:
        """The codename's keys at this org, derived as the source's client does (weak KDF)."""
        parsed = parse(codename, [wordlist("ko"), wordlist("en")])
        profile = weak_test_profile(insecure_test_only=True)
        fingerprint = self.org.fingerprint.encode()
        return derive(parsed, org_fingerprint=fingerprint, kind="pq", profile=profile)

    def open_fails(self, record: str, out: Path) -> str:
        """`tvault open` by the intake caseworker must exit 1 and write nothing; its stderr."""
        refused = self.cli.fails("open", record, "--out", str(out), home=INTAKE)
        assert _files(out) == [], "a refused open wrote files"
        return refused.stderr

    def replies_fail(self, codename: str, home: str) -> str:
        """`tvault replies` must exit 1 and leave the source's home as it was; its stderr."""
        before = _snapshot(self.org.tmp_path / home)
        refused = self.cli.fails(
            "replies", *self.org.source_args(), home=home, TVAULT_CODENAME=codename
        )
        assert _snapshot(self.org.tmp_path / home) == before
        return refused.stderr


@pytest.fixture
def scene(served: tuple[RunningServer, str], tmp_path: Path) -> Iterator[Scene]:
    """A staffed org set up through the proxy: every CLI, staff and sources, talks to it."""
    server, db_url = served
    with TamperProxy(server.base_url) as proxy:
        front = RunningServer(server.process, proxy.base_url, server.output)
        yield Scene(set_up_staff(Cli(tmp_path, proxy.base_url), front, db_url), proxy)


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def _snapshot(directory: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in _files(directory)}


def _sealed(plaintext: bytes, recipient: str) -> str:
    """`plaintext` as a whole age file to `recipient`, base64, as the API carries it."""
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plaintext), out, [recipient])
    return base64.b64encode(out.getvalue()).decode("ascii")


def _opened(sealed: str, identity: str) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(base64.b64decode(sealed)), out, [identity])
    return out.getvalue()


def _forged(record: str, sequence: int, author: str) -> bytes:
    """A reply signed by a key the server made: `author` names whom it pretends to be."""
    key = Ed25519PrivateKey.generate()
    return messages.sign_reply(
        record=record,
        sequence=sequence,
        author=author,
        message="코드네임을 알려 주세요.",
        signing_key=key,
    )


def _with_replies(*replies: dict[str, Any]) -> Callable[[Any], Any]:
    """An edit of the lookup answer that serves `replies` in place of the real ones."""
    return lambda found: {**found, "replies": list(replies)}


# -- (a) a swapped payload -----------------------------------------------------------------


@pytest.mark.timeout(300)
def test_a_swapped_or_damaged_payload_is_refused_by_open(scene: Scene, tmp_path: Path) -> None:
    mine = scene.submit("source-a", "첫째 보고서: 어머니가 들은 이야기.")["record_id"]
    other = scene.submit("source-b", "둘째 보고서: 다른 가족의 이야기.")["record_id"]

    def swapped(exchange: Exchange) -> Exchange:
        # Another record's payload, of the same size (both pad to the same bucket), with
        # the caseworker's own session: a valid age payload, just not this record's.
        return exchange.with_body(exchange.upstream("GET", f"/v1/records/{other}/payload").content)

    payload = rf"/v1/records/{mine}/payload"
    for rewrite in (swapped, lambda e: e.with_body(flip_byte(e.body, -1))):
        scene.proxy.clear()
        scene.proxy.rewrite("GET", payload, rewrite)
        stderr = scene.open_fails(mine, tmp_path / "out")
        assert f"the payload of {mine} is not the one its submission logged" in stderr
        assert "nothing was decrypted" in stderr

    scene.proxy.clear()
    opened = scene.cli.json("open", mine, "--out", str(tmp_path / "out"), home=INTAKE)
    report = json.loads(Path(opened["files"][mine]).read_text(encoding="utf-8"))
    assert report["narrative"] == "첫째 보고서: 어머니가 들은 이야기."


# -- (b) a substituted reply key ------------------------------------------------------------


@pytest.mark.timeout(300)
def test_the_server_cannot_substitute_the_reply_key(scene: Scene, tmp_path: Path) -> None:
    submitted = scene.submit("source-a", "답장을 기다립니다.")
    record, codename = submitted["record_id"], submitted["codename"]
    other = scene.submit("source-b", "다른 제보자입니다.")["codename"]
    mallory = age.generate_identity("pq")
    intake_recipient = scene.public_roster()["intake"][0]["recipient"]

    # 1. The reply recipient travels inside the sealed, committed report. A report the
    # server makes up with its own reply key, sealed to the intake caseworker under a new
    # file key (header and payload both served), fails the logged commitment.
    document = json.loads(korean_report(tmp_path / "fake.json", scene.cli).read_text())
    document["reply"] = {"recipient": age.recipient_of(mallory), "followup_mac_check": "0" * 64}
    plaintext = envelope.seal_report_plaintext(encode_report(Report.model_validate(document)))
    fake = io.BytesIO()
    sealed = age.seal(io.BytesIO(plaintext), fake, [intake_recipient])
    header = base64.b64encode(sealed.headers[intake_recipient]).decode("ascii")
    size = len(fake.getvalue())
    scene.proxy.rewrite_json(
        "GET", rf"/v1/records/{record}/header", lambda h: {**h, "header": header, "size": size}
    )
    scene.proxy.rewrite("GET", rf"/v1/records/{record}/payload",
                        lambda e: e.with_body(fake.getvalue()))  # fmt: skip
    stderr = scene.open_fails(record, tmp_path / "out")
    assert "not the one its submission logged" in stderr

    # 2. An honest reply, made through the proxy, is sealed to the source's codename key
    # (and the holders): it opens with that codename and with nothing the server holds.
    scene.proxy.clear()
    posted: list[bytes] = []

    def keep(exchange: Exchange) -> Exchange:
        posted.append(exchange.request_body)
        return exchange

    scene.proxy.rewrite("POST", rf"/v1/records/{record}/replies", keep)
    scene.cli.run("open", record, "--out", str(tmp_path / "out"), home=INTAKE)
    scene.cli.run("reply", record, "--message", "보고서를 잘 받았습니다.", home=INTAKE)
    (body,) = posted
    reply = json.loads(body)["sealed"]
    keys = scene.keys_of(codename)
    signed = _opened(reply, keys.reply_identity)
    assert messages.open_reply(signed, verify_keys=_staff_keys(scene)).message == (
        "보고서를 잘 받았습니다."
    )
    for stranger in (mallory, scene.keys_of(other).reply_identity):
        with pytest.raises(CryptoError):
            _opened(reply, stranger)
    shown = scene.org.replies(codename, home="source-a")["replies"]
    assert [r["message"] for r in shown] == ["보고서를 잘 받았습니다."]
    assert scene.org.replies(other, home="source-b")["replies"] == []

    # 3. A reply the server seals to its own key, with a signature it forged, is refused:
    # it does not even open with the codename.
    forged = _forged(record, 2, scene.staff_id())
    real = {"record": record, "sequence": 1, "sealed": reply}
    fake_reply = {
        "record": record,
        "sequence": 2,
        "sealed": _sealed(forged, age.recipient_of(mallory)),
    }
    scene.proxy.rewrite_json("POST", r"/v1/sources/lookup", _with_replies(real, fake_reply))
    stderr = scene.replies_fail(codename, "source-a")
    assert "reply 2 does not open with this codename" in stderr


# -- (c) a forged reply -----------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_a_forged_or_edited_reply_is_refused_by_replies(scene: Scene, tmp_path: Path) -> None:
    submitted = scene.submit("source-a", "답장을 기다립니다.")
    record, codename = submitted["record_id"], submitted["codename"]
    scene.cli.run("open", record, "--out", str(tmp_path / "out"), home=INTAKE)
    scene.cli.run("reply", record, "--message", "내일 연락드리겠습니다.", home=INTAKE)
    keys = scene.keys_of(codename)
    # Even knowing the source's reply key (which the server cannot learn: it is inside the
    # sealed report), the server cannot make a reply the source accepts.
    to_source = keys.reply_recipient
    staff = scene.staff_id()
    honest = scene.org.replies(codename, home="source-a")["replies"]
    assert [r["message"] for r in honest] == ["내일 연락드리겠습니다."]
    found = httpx.post(
        f"{scene.proxy.upstream}/v1/sources/lookup",
        json={"lookup_secret": base64.b64encode(keys.lookup_secret).decode("ascii")},
    ).json()
    (real,) = found["replies"]
    signed = _opened(real["sealed"], keys.reply_identity)

    text, signature = signed.split(b"\n\n", 1)
    edited = {**json.loads(text), "message": "모레 연락드리겠습니다."}
    cases = {
        "by someone not on the roster": _forged(record, 1, "acct-not-on-the-roster"),
        "not signed": _forged(record, 1, staff),
        "edited": roster.canonical_json(edited) + b"\n\n" + signature,
    }
    followup = korean_report(tmp_path / "more.json", scene.cli, narrative="추가 정보")
    for expected, forged in cases.items():
        scene.proxy.clear()
        fake = {"record": record, "sequence": 1, "sealed": _sealed(forged, to_source)}
        scene.proxy.rewrite_json("POST", r"/v1/sources/lookup", _with_replies(fake))
        stderr = scene.replies_fail(codename, "source-a")
        assert "refusing reply 1" in stderr, (expected, stderr)
        assert "forged reply" in stderr, (expected, stderr)
        # Nor is anything sent on the strength of a forged reply.
        scene.proxy.seen.clear()
        scene.cli.fails("replies", *scene.org.source_args(), "--add", str(followup),
                        home="source-a", TVAULT_CODENAME=codename)  # fmt: skip
        assert ("POST", "/v1/sources/followups") not in scene.proxy.seen

    # A real reply moved to another place in the thread is refused too.
    scene.proxy.clear()
    moved = {**real, "sequence": 2}
    scene.proxy.rewrite_json("POST", r"/v1/sources/lookup", _with_replies(moved))
    assert "signed for another record or place" in scene.replies_fail(codename, "source-a")

    # The caseworker's copy of the thread is checked alike: a forged reply in it, sealed to
    # the intake caseworker, makes `tvault open` refuse the thread.
    scene.proxy.clear()
    to_intake = _sealed(_forged(record, 1, staff), scene.public_roster()["intake"][0]["recipient"])
    scene.proxy.rewrite_json(
        "GET",
        rf"/v1/records/{record}/thread",
        lambda thread: {**thread, "replies": [{**thread["replies"][0], "sealed": to_intake}]},
    )
    refused = scene.cli.fails("open", record, "--out", str(tmp_path / "again"), home=INTAKE)
    assert f"refusing the thread of {record}" in refused.stderr


# -- (d) a fetch served without its log entry -------------------------------------------------


def _drop_fetch(served: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in served.items() if k != "fetch"}


def _forged_checkpoint(served: dict[str, Any]) -> dict[str, Any]:
    note = served["fetch"]["checkpoint"]
    text, signature = note.rsplit("\n— ", 1)
    key, sig = signature.split(" ", 1)
    tampered = base64.b64encode(bytes(len(base64.b64decode(sig.strip())))).decode()
    return _fetch_with(served, checkpoint=f"{text}\n— {key} {tampered}\n")


def _submitted_as_fetch(served: dict[str, Any]) -> dict[str, Any]:
    # The record's submission entry, with its valid proof, passed off as this fetch.
    submitted = served["submitted"]
    return _fetch_with(served, entry=submitted["entry"], index=submitted["index"],
                       proof=submitted["proof"])  # fmt: skip


def _bad_proof(served: dict[str, Any]) -> dict[str, Any]:
    proof = [base64.b64encode(bytes(32)).decode(), *served["fetch"]["proof"][1:]]
    return _fetch_with(served, proof=proof)


def _fetch_with(served: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**served, "fetch": {**served["fetch"], **changes}}


@pytest.mark.timeout(300)
def test_a_fetch_served_without_its_log_entry_opens_nothing(scene: Scene, tmp_path: Path) -> None:
    record = scene.submit("source-a", "기록되지 않은 열람")["record_id"]
    header = rf"/v1/records/{record}/header"
    for edit in (_drop_fetch, _forged_checkpoint, _submitted_as_fetch, _bad_proof):
        scene.proxy.clear()
        scene.proxy.seen.clear()
        scene.proxy.rewrite_json("GET", header, edit)
        stderr = scene.open_fails(record, tmp_path / "out")
        assert f"refusing record {record}: its fetch proof does not verify" in stderr, edit
        assert ("GET", f"/v1/records/{record}/payload") not in scene.proxy.seen, edit

    # An honest open; then the same answer replayed, as a server would serve a fetch it
    # did not log: its entry is not a new one, so it proves no new fetch.
    scene.proxy.clear()
    answers: list[bytes] = []

    def remember(exchange: Exchange) -> Exchange:
        answers.append(exchange.body)
        return exchange

    scene.proxy.rewrite("GET", header, remember)
    scene.cli.run("open", record, "--out", str(tmp_path / "first"), home=INTAKE)
    scene.proxy.clear()
    scene.proxy.rewrite("GET", header, lambda e: e.with_body(answers[0]))
    stderr = scene.open_fails(record, tmp_path / "out")
    assert f"refusing record {record}: its fetch proof does not verify" in stderr


def _staff_keys(scene: Scene) -> dict[str, bytes]:
    return {
        str(k["id"]): base64.b64decode(k["verify_key"]) for k in scene.public_roster()["staff_keys"]
    }
