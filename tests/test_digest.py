"""SHA-256 of files, one at a time and side by side."""

import hashlib

from irreport.digest import file_sha256, files_sha256


def test_files_hash_in_the_order_given(tmp_path):
    contents = [b"", b"a" * 3_000_000, b"evidence\r\n", bytes(range(256)) * 9_000]
    paths = []
    for index, content in enumerate(contents):
        path = tmp_path / f"file-{index}"
        path.write_bytes(content)
        paths.append(path)
    expected = [hashlib.sha256(content).hexdigest() for content in contents]
    assert files_sha256(paths) == expected
    assert files_sha256(paths[::-1]) == expected[::-1]
    assert [file_sha256(path) for path in paths] == expected
    assert files_sha256(paths[1:2]) == expected[1:2]
    assert files_sha256([]) == []
