"""The storage interface: generated keys, paths kept under MEDIA_ROOT, atomic writes, checksums."""
import hashlib
import io
import re

import pytest

from app.media.storage import LocalStorage, asset_key, is_valid_key, new_uid, sha256_file


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "media")


def test_keys_are_generated_ascii():
    uid = new_uid()
    assert re.fullmatch(r"[0-9a-f]{32}", uid) and uid != new_uid()
    assert asset_key(uid, "720p.mp4") == f"assets/{uid[:2]}/{uid}/720p.mp4"
    for bad in ("课程.mp4", "../x", "A.MP4", ""):
        with pytest.raises(ValueError):
            asset_key(uid, bad)
    with pytest.raises(ValueError):
        asset_key("not-a-uid", "source")


@pytest.mark.parametrize("key,ok", [
    ("assets/ab/abcd/source.mp4", True), ("demo/lesson-1.mp4", True), ("../etc/passwd", False),
    ("/etc/passwd", False), ("assets/../../x", False), (".work/job-1/a.mp4", False), ("a//b", False),
    ("assets/课.mp4", False), ("assets/x\x00.mp4", False), ("", False),
])
def test_key_validation(storage, key, ok):
    assert is_valid_key(key) is ok
    if not ok:
        with pytest.raises(ValueError):
            storage.path(key)
    else:
        assert storage.root in storage.path(key).parents


def test_write_stream_is_atomic_and_hashed(storage):
    data = b"x" * 3_000_000
    stored = storage.write_stream(io.BytesIO(data), "assets/aa/file.bin")
    assert stored.size_bytes == len(data) and stored.checksum == hashlib.sha256(data).hexdigest()
    assert storage.checksum("assets/aa/file.bin") == stored.checksum

    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 1_000_000:
                raise ConnectionResetError("gone")
            return super().read(size)

    with pytest.raises(ConnectionResetError):
        storage.write_stream(Broken(b"y" * 3_000_000), "assets/aa/file.bin")
    assert storage.path("assets/aa/file.bin").read_bytes() == data  # the old file, whole
    assert [p.name for p in storage.path("assets/aa").iterdir()] == ["file.bin"]  # no temp left


def test_put_file_moves_and_checks(storage, tmp_path):
    src = storage.root / ".work" / "job-1" / "240p.mp4"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"video")
    stored = storage.put_file(src, "assets/bb/240p.mp4")
    assert not src.exists() and storage.exists("assets/bb/240p.mp4")
    assert stored.checksum == sha256_file(storage.path("assets/bb/240p.mp4"))
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"copy me")
    kept = storage.put_file(outside, "assets/bb/copy.bin", move=False, with_checksum=False)
    assert outside.exists() and kept.checksum is None and storage.size("assets/bb/copy.bin") == 7


def test_scratch_space(storage):
    work = storage.work_dir("job-7")
    (work / "x.part").write_bytes(b"half")
    again = storage.work_dir("job-7")
    assert again == work and list(again.iterdir()) == []  # a rerun starts empty
    part = storage.upload_path("a" * 32)
    assert part.parent.name == "uploads"
    with pytest.raises(ValueError):
        storage.upload_path("../../x")
    with pytest.raises(ValueError):
        storage.work_dir("../x")
    names = sorted(p.name for p, _ in storage.scratch_entries())
    assert names == ["job-7"]  # the upload part was never created
