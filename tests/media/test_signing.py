"""Signed media URLs: nginx secure_link format, expiry and tampering (pure)."""
import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media import signing
from app.media.signing import Verdict

SECRET = "s3cr3t-KEY_x"
KEY = "assets/ab/abcdef/720p.mp4"


def test_signature_matches_the_recipe_of_nginx_docs():
    # echo -n "2147483647/media/s/assets/ab/abcdef/720p.mp4 s3cr3t-KEY_x" \
    #   | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
    assert signing.signature("/media/s/" + KEY, 2147483647, SECRET) == "sCil4Bpy2CpVOFQnpo2tXg"


def test_signed_url_has_path_md5_and_expires_only():
    signed = signing.sign_key(KEY, 1_800_000_000, SECRET)
    parts = urlsplit(signed.url)
    assert parts.path == "/media/s/" + KEY
    assert parse_qs(parts.query) == {
        "md5": [signing.signature(parts.path, 1_800_000_000, SECRET)],
        "expires": ["1800000000"],
    }
    assert signed.expires == 1_800_000_000
    assert "=" not in parse_qs(parts.query)["md5"][0]  # no base64 padding


def test_url_prefix_is_not_signed():
    plain = signing.sign_key(KEY, 1_800_000_000, SECRET)
    absolute = signing.sign_key(KEY, 1_800_000_000, SECRET, url_prefix="http://school.example")
    assert absolute.url == "http://school.example" + plain.url


def _parts(url):
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["md5"][0], query["expires"][0]


def test_fresh_url_is_valid_until_and_including_its_expiry_second():
    path, md5, expires = _parts(signing.sign_key(KEY, 1000, SECRET).url)
    assert signing.verify(path, md5, expires, SECRET, now_s=0) is Verdict.VALID
    assert signing.verify(path, md5, expires, SECRET, now_s=1000) is Verdict.VALID
    assert signing.verify(path, md5, expires, SECRET, now_s=1000.5) is Verdict.EXPIRED
    assert signing.verify(path, md5, expires, SECRET, now_s=5000) is Verdict.EXPIRED


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p, m, e: (p, m, str(int(e) + 3600)), id="expiry-extended"),
        pytest.param(lambda p, m, e: (p.replace("720p", "1080p"), m, e), id="other-file"),
        pytest.param(lambda p, m, e: (p, m[:-1] + ("A" if m[-1] != "A" else "B"), e), id="signature-edited"),
        pytest.param(lambda p, m, e: (p, None, e), id="signature-missing"),
        pytest.param(lambda p, m, e: (p, m, None), id="expiry-missing"),
        pytest.param(lambda p, m, e: (p, m, ""), id="expiry-empty"),
        pytest.param(lambda p, m, e: (p, m, "-1"), id="expiry-negative"),
        pytest.param(lambda p, m, e: (p, m, e + "x"), id="expiry-not-a-number"),
        pytest.param(lambda p, m, e: (p, "é" * 22, e), id="signature-not-ascii"),
    ],
)
def test_tampered_url_is_refused(change):
    path, md5, expires = _parts(signing.sign_key(KEY, 2000, SECRET).url)
    assert signing.verify(*change(path, md5, expires), SECRET, now_s=1000) is Verdict.TAMPERED


def test_other_secret_is_tampered():
    path, md5, expires = _parts(signing.sign_key(KEY, 2000, SECRET).url)
    assert signing.verify(path, md5, expires, "another-key", now_s=1000) is Verdict.TAMPERED


def test_tampered_and_expired_is_tampered_as_in_nginx():
    path, md5, expires = _parts(signing.sign_key(KEY, 2000, SECRET).url)
    assert signing.verify(path, md5[::-1], expires, SECRET, now_s=9000) is Verdict.TAMPERED


@settings(max_examples=200, deadline=None)
@given(
    key=st.from_regex(r"[a-z0-9_-]{1,12}(/[a-z0-9_.-]{1,12}){0,3}", fullmatch=True).filter(signing.is_valid_key),
    expires=st.integers(min_value=1, max_value=10**11),
    flip=st.integers(min_value=0, max_value=21),
)
def test_roundtrip_and_any_flipped_character(key, expires, flip):
    path, md5, exp = _parts(signing.sign_key(key, expires, SECRET).url)
    assert signing.verify(path, md5, exp, SECRET, now_s=expires) is Verdict.VALID
    digest = bytearray(base64.urlsafe_b64decode(md5 + "=="))
    digest[flip % len(digest)] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(digest)).rstrip(b"=").decode()
    assert signing.verify(path, flipped, exp, SECRET, now_s=expires) is Verdict.TAMPERED


def test_signature_is_md5_of_expires_uri_space_secret():
    digest = hashlib.md5(b"42/media/s/a/b.mp4 k").digest()
    assert signing.signature("/media/s/a/b.mp4", 42, "k") == base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.mark.parametrize("key", ["", "/abs.mp4", "../etc/passwd", "a/../b", "a/./b", "a//b", "a/b/", "é.mp4", "a b.mp4", "a%2fb", "a\\b", ".work/x.mp4", "a/.hidden"])
def test_keys_outside_the_generated_alphabet_are_refused(key):
    assert not signing.is_valid_key(key)
    with pytest.raises(ValueError):
        signing.stream_path(key)


def test_key_from_path_inverts_stream_path():
    assert signing.key_from_path(signing.stream_path(KEY)) == KEY
    assert signing.key_from_path("/static/x.js") is None
    assert signing.key_from_path("/media/s/../x") is None


def test_derived_secret_is_stable_and_fits_nginx():
    derived = signing.derive_secret("app-secret")
    assert derived == signing.derive_secret("app-secret") != signing.derive_secret("other")
    assert len(derived) == 64 and signing.is_nginx_safe_secret(derived)
    assert signing.nginx_secure_link_md5(derived) == f'secure_link_md5 "$secure_link_expires$uri {derived}";'


@pytest.mark.parametrize("secret", ["", "has space", 'quo"te', "dollar$uri", "semi;colon", "brace}", "back\\slash"])
def test_secrets_that_would_break_the_nginx_string_are_refused(secret):
    assert not signing.is_nginx_safe_secret(secret)
    with pytest.raises(ValueError):
        signing.nginx_secure_link_md5(secret)
