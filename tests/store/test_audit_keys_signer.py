"""The signer of new audit rows spells HMAC-SHA256 out with two plain hashes; its hashes are
HMAC's own for any key and any row (the chain's hashes depend on it)."""

from __future__ import annotations

import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from remit.store.audit_keys import AuditKeyRing


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=16, max_size=200), min_size=1, max_size=3, unique=True),
    prev_hash=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    content=st.text(max_size=400),
)
def test_the_signer_writes_hmac_sha256_of_the_newest_key(
    keys: list[bytes], prev_hash: str, content: str
) -> None:
    ring = AuditKeyRing(tuple((f"k{i}", key) for i, key in enumerate(keys)))
    expected = hmac.new(keys[-1], (prev_hash + content).encode("utf-8"), "sha256").hexdigest()
    assert ring.signer()(prev_hash, content) == expected


def test_keys_of_one_block_and_longer_are_hmacs_too() -> None:
    for size in (63, 64, 65, 128):
        key = bytes(range(size))
        ring = AuditKeyRing((("k1", key),))
        assert (
            ring.signer()("0" * 64, '{"a":1}')
            == hmac.new(key, ("0" * 64 + '{"a":1}').encode(), "sha256").hexdigest()
        )
