import pickle

import pytest

from encryptface.crypto.keys import (
    DecryptionError,
    KdfParams,
    KeyRing,
    Password,
    PasswordError,
    derive_master_key,
    face_aad,
    read_password,
    seal,
    unseal,
)


def test_seal_roundtrip_and_every_mismatch_fails(master_key):
    key = master_key.face_key(b"s" * 16, 0)
    blob = seal(key, b"original pixels", face_aad("abc", 0, "seal"))
    assert unseal(key, blob, face_aad("abc", 0, "seal")) == b"original pixels"
    other_face = master_key.face_key(b"s" * 16, 1)
    with pytest.raises(DecryptionError, match="wrong password"):
        unseal(other_face, blob, face_aad("abc", 0, "seal"))
    with pytest.raises(DecryptionError):  # moved to another photo
        unseal(key, blob, face_aad("xyz", 0, "seal"))
    tampered = bytearray(blob)
    tampered[20] ^= 1
    with pytest.raises(DecryptionError):
        unseal(key, bytes(tampered), face_aad("abc", 0, "seal"))


def test_a_key_check_value_opens_only_for_its_key_record_and_face(master_key):
    salt, aad = b"s" * 16, face_aad("abc", 0, "encrypt")
    check = master_key.key_check(salt, 0, aad)
    assert len(check) == 16 and master_key.opens(salt, 0, aad, check)
    assert check not in (master_key.face_key(salt, 0), master_key.embedding_key(salt, 0))
    other = derive_master_key(Password(b"not it"), master_key.params)
    assert not other.opens(salt, 0, aad, check)
    assert not master_key.opens(salt, 1, aad, check)                              # another face
    assert not master_key.opens(b"t" * 16, 0, aad, check)                         # another record
    assert not master_key.opens(salt, 0, face_aad("xyz", 0, "encrypt"), check)   # another photo


def test_wrong_password_derives_another_key(settings, master_key):
    other = derive_master_key(Password(b"not it"), master_key.params)
    assert other.face_key(b"s" * 16, 0) != master_key.face_key(b"s" * 16, 0)
    again = KeyRing(Password(b"correct horse battery staple 7f3a")).get(master_key.kdf_json)
    assert again.face_key(b"s" * 16, 0) == master_key.face_key(b"s" * 16, 0)


def test_kdf_params_roundtrip_through_json(settings):
    params = KdfParams.fresh(settings.kdf)
    assert KdfParams.from_json(params.to_json()) == params
    assert '"n": 16384' in params.to_json()


def test_weak_kdf_is_refused(settings):
    import dataclasses
    with pytest.raises(ValueError, match="too weak"):
        KdfParams.fresh(dataclasses.replace(settings.kdf, n_log2=10))


def test_secrets_stay_out_of_reprs_and_pickles(password, master_key):
    secret = b"correct horse battery staple 7f3a"
    assert b"correct" not in repr(password).encode() and "correct" not in str(password)
    with pytest.raises(TypeError):
        pickle.dumps(password)
    ring = KeyRing(password)
    ring.get(master_key.kdf_json)
    shipped = pickle.dumps(ring)
    assert secret not in shipped  # only the derived key travels to workers
    restored = pickle.loads(shipped)
    assert restored.get(master_key.kdf_json).face_key(b"x" * 16, 2) == master_key.face_key(b"x" * 16, 2)
    with pytest.raises(KeyError):
        restored.get(KdfParams(14, 8, 1, b"z" * 16).to_json())


def test_password_sources(tmp_path):
    path = tmp_path / "pw"
    path.write_text("from-file\nsecond line ignored\n")
    assert read_password(str(path), environ={})._value == b"from-file"
    assert read_password(None, environ={"ENCRYPTFACE_PASSWORD": "from-env"})._value == b"from-env"
    with pytest.raises(PasswordError, match="no password"):
        read_password(None, environ={}, interactive=False)
    (tmp_path / "empty").write_text("")
    with pytest.raises(PasswordError, match="empty"):
        read_password(str(tmp_path / "empty"), environ={})
    with pytest.raises(PasswordError, match="cannot read") as info:
        read_password(str(tmp_path / "missing"), environ={})
    assert "from-file" not in str(info.value)
