"""The vault on real files: round trips, content addresses, shredding, refusals, bounded memory."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from healthledger.crypto.envelope import CHUNK_BYTES, Decryptor, decrypt_bytes, new_data_key
from healthledger.errors import ErrorCode, LedgerError
from healthledger.vault import Vault

RECORD = b'{"resourceType":"Observation","status":"final","code":{"text":"BP"}}'


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    opened = Vault(tmp_path / "vault")
    yield opened
    opened.close()


def blob_path(vault: Vault, blob_id: str) -> Path:
    return vault.root / "blobs" / blob_id[:2] / blob_id


def refused(action: Callable[[], object]) -> LedgerError:
    """The error an action raises, consuming its result if it is a stream."""
    with pytest.raises(LedgerError) as caught:
        result = action()
        if isinstance(result, Iterator):
            list(result)
    return caught.value


def test_layout_is_created(vault: Vault) -> None:
    assert (vault.root / "blobs").is_dir()
    assert (vault.root / "tmp").is_dir()
    assert (vault.root / "vault.sqlite").is_file()


def test_put_info_read_and_decrypt_round_trip(vault: Vault) -> None:
    key = new_data_key()
    sealed = vault.put_stream(key, [RECORD])
    assert vault.has(sealed.blob_id)
    assert vault.info(sealed.blob_id) == sealed
    ciphertext = b"".join(vault.read_chunks(sealed.blob_id, chunk_size=7))
    assert len(ciphertext) == sealed.ciphertext_size
    plaintext, opened = decrypt_bytes(key, ciphertext)
    assert plaintext == RECORD
    assert opened.content_hash == sealed.content_hash
    assert sealed.content_hash == hashlib.sha256(opened.salt + RECORD).hexdigest()


def test_blob_id_is_the_sha256_of_the_file(vault: Vault) -> None:
    sealed = vault.put_stream(new_data_key(), [RECORD[:10], b"", RECORD[10:]])
    path = blob_path(vault, sealed.blob_id)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sealed.blob_id
    assert path.stat().st_size == sealed.ciphertext_size
    assert list((vault.root / "tmp").iterdir()) == []


def test_index_survives_reopening(tmp_path: Path) -> None:
    first = Vault(tmp_path / "v")
    sealed = first.put_stream(new_data_key(), [RECORD])
    first.close()
    second = Vault(tmp_path / "v")
    assert second.info(sealed.blob_id) == sealed
    second.close()


def test_multi_chunk_stream_round_trip(vault: Vault) -> None:
    key = new_data_key()
    chunks = [bytes([i]) * 50_000 for i in range(7)]
    sealed = vault.put_stream(key, iter(chunks))
    assert sealed.size == sum(map(len, chunks)) > 5 * CHUNK_BYTES
    decryptor = Decryptor(key)
    pieces = [decryptor.update(chunk) for chunk in vault.read_chunks(sealed.blob_id)]
    tail, opened = decryptor.finish()
    assert b"".join(pieces) + tail == b"".join(chunks)
    assert opened.content_hash == sealed.content_hash


def test_shred_removes_file_and_row_and_is_idempotent(vault: Vault) -> None:
    sealed = vault.put_stream(new_data_key(), [RECORD])
    kept = vault.put_stream(new_data_key(), [RECORD])
    path = blob_path(vault, sealed.blob_id)
    assert vault.shred(sealed.blob_id) is True
    assert not path.exists()
    assert not vault.has(sealed.blob_id)
    assert refused(lambda: vault.info(sealed.blob_id)).code == ErrorCode.BLOB_MISSING
    assert vault.shred(sealed.blob_id) is False
    assert vault.has(kept.blob_id)


def test_shred_finishes_a_half_done_shred(vault: Vault) -> None:
    # A crash after the unlink but before the row was deleted leaves only the row.
    sealed = vault.put_stream(new_data_key(), [RECORD])
    blob_path(vault, sealed.blob_id).unlink()
    assert not vault.has(sealed.blob_id)
    assert vault.shred(sealed.blob_id) is True
    assert vault.shred(sealed.blob_id) is False


@pytest.mark.parametrize(
    "blob_id",
    [
        "",
        "../../etc/passwd",
        "a" * 63,
        "a" * 65,
        "A" * 64,
        "g" * 64,
        "/" + "a" * 63,
        "a" * 64 + "\n",
        "..",
    ],
)
def test_bad_blob_ids_are_refused_before_the_disk_is_touched(vault: Vault, blob_id: str) -> None:
    for action in (
        lambda: vault.has(blob_id),
        lambda: vault.info(blob_id),
        lambda: vault.read_chunks(blob_id),
        lambda: vault.shred(blob_id),
    ):
        assert refused(action).code == ErrorCode.MALFORMED


def test_missing_blob_is_blob_missing(vault: Vault) -> None:
    absent = "ab" * 32
    assert not vault.has(absent)
    assert refused(lambda: vault.read_chunks(absent)).code == ErrorCode.BLOB_MISSING
    assert refused(lambda: vault.info(absent)).code == ErrorCode.BLOB_MISSING


def test_a_blob_altered_on_disk_is_a_hash_mismatch(vault: Vault) -> None:
    sealed = vault.put_stream(new_data_key(), [RECORD])
    path = blob_path(vault, sealed.blob_id)
    altered = bytearray(path.read_bytes())
    altered[-1] ^= 0xFF
    path.write_bytes(bytes(altered))
    assert refused(lambda: vault.read_chunks(sealed.blob_id)).code == ErrorCode.HASH_MISMATCH


def test_a_failed_stream_leaves_no_blob_and_no_temp_file(vault: Vault) -> None:
    def failing() -> Iterator[bytes]:
        yield RECORD
        raise OSError("upload interrupted")

    with pytest.raises(OSError):
        vault.put_stream(new_data_key(), failing())
    assert list((vault.root / "tmp").iterdir()) == []
    assert list((vault.root / "blobs").iterdir()) == []


def test_concurrent_puts_from_threads(vault: Vault) -> None:
    key = new_data_key()
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                sealed = vault.put_bytes(key, b"%d/%d" % (n, i) + RECORD)
                assert vault.info(sealed.blob_id) == sealed
                results.append(sealed.blob_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 80
    assert all(vault.has(blob_id) for blob_id in results)


# --- a whole genome through bounded memory --------------------------------------------------

GENOME_SCRIPT = r'''
import hashlib, json, resource, sys
from pathlib import Path

from healthledger.crypto.envelope import Decryptor, new_data_key
from healthledger.vault import Vault

BLOCKS = int(sys.argv[2])


def vcf_template() -> bytes:
    """About 1 MiB of VCF-like variant lines, built once."""
    lines, pos, bases = [], 10_000, b"ACGT"
    while sum(map(len, lines)) < 1 << 20:
        pos += 137
        ref, alt = bases[pos % 4 : pos % 4 + 1], bases[(pos + 1) % 4 : (pos + 1) % 4 + 1]
        lines.append(b"chr1\t%d\trs%d\t%s\t%s\t%d\tPASS\tDP=%d;AF=0.%d\tGT\t0/1\n"
                     % (pos, pos * 7, ref, alt, 30 + pos % 60, 10 + pos % 90, pos % 100))
    return b"".join(lines)


TEMPLATE = vcf_template()


def genome():
    """The pseudo-genome, one ~1 MiB block at a time; never whole in memory."""
    yield b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    for block in range(BLOCKS):
        yield b"##block=%d\n" % block + TEMPLATE


def rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


vault = Vault(Path(sys.argv[1]))
key = new_data_key()
before = rss_kb()
sealed = vault.put_stream(key, genome())
after_put = rss_kb()

decryptor, plain = Decryptor(key), hashlib.sha256()
for chunk in vault.read_chunks(sealed.blob_id):
    plain.update(decryptor.update(chunk))
tail, opened = decryptor.finish()
plain.update(tail)

salted, unsalted, size = hashlib.sha256(opened.salt), hashlib.sha256(), 0
for block in genome():
    salted.update(block)
    unsalted.update(block)
    size += len(block)
vault.close()
print(json.dumps({
    "size": size,
    "sealed_size": sealed.size,
    "sealed_hash": sealed.content_hash,
    "opened_hash": opened.content_hash,
    "reference_hash": salted.hexdigest(),
    "decrypted_plain_hash": plain.hexdigest(),
    "reference_plain_hash": unsalted.hexdigest(),
    "rss_before_kb": before,
    "rss_after_put_kb": after_put,
    "rss_after_kb": rss_kb(),
}))
'''


def test_a_200_mb_genome_streams_through_bounded_memory(tmp_path: Path) -> None:
    script = tmp_path / "genome.py"
    script.write_text(GENOME_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "vault"), "200"],
        capture_output=True,
        check=True,
        timeout=240,
    )
    report = json.loads(run.stdout)
    print(f"peak RSS before {report['rss_before_kb']} kB, after {report['rss_after_kb']} kB")
    assert report["size"] == report["sealed_size"] > 200 * 2**20
    assert report["sealed_hash"] == report["opened_hash"] == report["reference_hash"]
    assert report["decrypted_plain_hash"] == report["reference_plain_hash"]
    assert report["rss_after_kb"] - report["rss_before_kb"] < 100 * 1024


def test_small_records_are_stored_inline_in_one_transaction(vault: Vault) -> None:
    keys = [new_data_key() for _ in range(3)]
    sealed = vault.put_small([(k, b"record %d" % i) for i, k in enumerate(keys)])
    assert list((vault.root / "blobs").rglob("*.*")) == []
    for i, (key, info) in enumerate(zip(keys, sealed, strict=True)):
        assert vault.has(info.blob_id)
        ciphertext = b"".join(vault.read_chunks(info.blob_id, chunk_size=7))
        assert hashlib.sha256(ciphertext).hexdigest() == info.blob_id
        assert decrypt_bytes(key, ciphertext)[0] == b"record %d" % i
    assert vault.put_bytes(keys[0], b"small").blob_id  # put_bytes goes inline when small
    assert vault.shred(sealed[0].blob_id) is True
    assert not vault.has(sealed[0].blob_id)
    assert vault.shred(sealed[0].blob_id) is False
    with pytest.raises(LedgerError):
        vault.read_chunks(sealed[0].blob_id)


def test_a_note_is_sealed_found_by_its_salted_hash_and_dropped(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    text = b"Found unresponsive near the Quibbleford lighthouse"
    key = new_data_key()
    sealed = vault.put_note(key, text, "wrapped-key")
    ciphertext, wrapped = vault.note(sealed.content_hash) or (b"", "")
    assert wrapped == "wrapped-key"
    assert decrypt_bytes(key, ciphertext)[0] == text
    again = vault.put_note(key, text, "wrapped-key")  # same text, fresh salt, another hash
    assert again.content_hash != sealed.content_hash
    assert vault.drop_note(sealed.content_hash) is True
    assert vault.note(sealed.content_hash) is None
    vault.close()
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "vault").rglob("*") if p.is_file())
    assert text not in on_disk


def test_a_note_sealed_twice_with_the_same_salt_is_a_clear_conflict(tmp_path: Path) -> None:
    """A retried request with the reader's same salt: a stable code, not a database error."""
    vault = Vault(tmp_path / "vault")
    salt = b"\x07" * 32
    first = vault.put_note(new_data_key(), b"collapsed in the waiting room", "k", salt)
    with pytest.raises(LedgerError) as refused:
        vault.put_note(new_data_key(), b"collapsed in the waiting room", "k", salt)
    assert refused.value.code == "already_exists"
    assert vault.note(first.content_hash) is not None
    vault.close()
