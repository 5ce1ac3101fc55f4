import pytest

from encryptface.config import load_settings


def test_defaults_load_with_types():
    settings = load_settings(environ={})
    assert settings.kdf.n_log2 >= 15 and isinstance(settings.alignment.face_scale, float)
    assert ".jpg" in settings.storage.extensions and isinstance(settings.storage.extensions, tuple)


def test_precedence_file_then_env_then_flags(tmp_path):
    conf = tmp_path / "site.toml"
    conf.write_text("[spark]\nbatch_size = 3\nimages_per_partition = 5\n[images]\noutput_format = 'png'\n")
    settings = load_settings(conf, ["spark.batch_size=4"],
                             environ={"ENCRYPTFACE__SPARK__IMAGES_PER_PARTITION": "6",
                                      "ENCRYPTFACE__SPARK__BATCH_SIZE": "9"})
    assert settings.spark.batch_size == 4            # flag beats env
    assert settings.spark.images_per_partition == 6  # env beats file
    assert settings.images.output_format == "png"    # file beats default


@pytest.mark.parametrize("override", ["spark.no_such_key=1", "nosection.key=1", "missing_equals"])
def test_unknown_or_malformed_overrides_are_refused(override):
    with pytest.raises(ValueError):
        load_settings(overrides=[override], environ={})


def test_settings_are_hashable_for_worker_caches():
    assert hash(load_settings(environ={})) == hash(load_settings(environ={}))


@pytest.mark.parametrize(("raw", "expected"), [("false", False), ("False", False), ("no", False),
                                               ("0", False), ("true", True), ("YES", True), ("1", True)])
def test_bools_parse_from_flags_and_env(raw, expected):
    assert load_settings(overrides=[f"cloak.random_start={raw}"], environ={}).cloak.random_start is expected
    env = {"ENCRYPTFACE__CLOAK__RANDOM_START": raw}
    assert load_settings(environ=env).cloak.random_start is expected


def test_a_bool_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="true or false"):
        load_settings(overrides=["encrypt.decoys=maybe"], environ={})
