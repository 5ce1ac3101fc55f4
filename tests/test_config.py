import pytest

from encryptface.config import SettingsError, load_settings


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


@pytest.mark.parametrize(("override", "named"), [
    ("images.output_format=jpg", "'jpeg', 'png'"),
    ("cloak.method=pgd-targetted", "'pgd', 'pgd-targeted', 'tip-im'"),
    ("cloak.norm=l3", "'l2', 'linf'"),
    ("cloak.surrogates=[\"dlib\"]", "'facenet', 'mobilefacenet', 'arcface'"),
    ("encrypt.generator=gan", "'prior', 'stylegan'"),
    ("encrypt.backend=onnx", "'openvino', 'torch'"),
    ("encrypt.precision=f16", "'int8', 'f32'"),
    ("encrypt.residual=none", "'permuted', 'sealed'"),
    ("encrypt.performance_hint=latency", "'LATENCY', 'THROUGHPUT'"),
    ("storage.retry_mode=eager", "'legacy', 'standard', 'adaptive'"),
    ("kdf.algorithm=argon2", "'scrypt'"),
])
def test_an_enumerated_setting_outside_its_choices_is_refused_naming_them(override, named):
    name, _, value = override.partition("=")
    with pytest.raises(SettingsError) as refused:
        load_settings(overrides=[override], environ={})
    message = str(refused.value)
    assert "\n" not in message and name in message and value.strip('[]"') in message and named in message


@pytest.mark.parametrize(("override", "allowed"), [
    ("kdf.n_log2=10", "at least 14"), ("images.jpeg_quality=101", "at most 100"),
    ("spark.batch_size=0", "at least 1"), ("cloak.epsilon=0", "above 0"),
    ("alignment.face_scale=1.5", "at most 1"), ("images.max_seconds=-1", "at least 0"),
    ("spark.batch_size=2.5", "an integer"), ("cloak.steps=many", "an integer"),
    ("cloak.epsilon=wide", "a number"), ("cloak.surrogates=facenet", "a list"),
])
def test_numbers_out_of_range_or_of_the_wrong_type_are_refused(override, allowed):
    with pytest.raises(SettingsError, match=allowed):
        load_settings(overrides=[override], environ={})


def test_the_message_says_where_a_bad_value_came_from(tmp_path):
    with pytest.raises(SettingsError, match=r"ENCRYPTFACE__IMAGES__OUTPUT_FORMAT"):
        load_settings(environ={"ENCRYPTFACE__IMAGES__OUTPUT_FORMAT": "gif"})
    conf = tmp_path / "site.toml"
    conf.write_text("[cloak]\nnorm = 'l1'\n")
    with pytest.raises(SettingsError, match="site.toml"):
        load_settings(conf, environ={})
    conf.write_text("[cloak\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(conf, environ={})
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_whole_numbers_pass_as_floats_and_floats_as_whole_numbers():
    settings = load_settings(overrides=["spark.batch_size=4.0", "cloak.epsilon=4"], environ={})
    assert settings.spark.batch_size == 4 and isinstance(settings.spark.batch_size, int)
    assert settings.cloak.epsilon == 4.0 and isinstance(settings.cloak.epsilon, float)


RENAMED_MODEL = "setting encrypt.model (from {origin}) was renamed encrypt.prior_model"
RENAMED_SECTION = "settings section [training] (from {origin}) was renamed [prior_training]"


@pytest.mark.parametrize(("source", "says"), [
    ("file:[encrypt]\nmodel = 'generator'\n", RENAMED_MODEL),
    ("file:[training]\nsteps = 10\n", RENAMED_SECTION),
    ("env:ENCRYPTFACE__ENCRYPT__MODEL", RENAMED_MODEL.replace("{origin}", "ENCRYPTFACE__ENCRYPT__MODEL")),
    ("set:training.steps=10", RENAMED_SECTION.replace("{origin}", "--set")),
])
def test_a_renamed_setting_is_refused_naming_its_new_name(tmp_path, source, says):
    """Settings written before the prior was named the prior (#30) are never silently dropped."""
    kind, _, value = source.partition(":")
    conf = tmp_path / "old.toml"
    conf.write_text(value if kind == "file" else "")
    with pytest.raises(SettingsError) as refused:
        load_settings(conf, [value] if kind == "set" else [],
                      environ={value: "prior"} if kind == "env" else {})
    assert str(refused.value) == says.format(origin=conf)


def test_an_old_default_file_named_by_encryptface_conf_is_refused_too(tmp_path, monkeypatch):
    from encryptface.config import DEFAULT_CONF

    old = tmp_path / "old-default.toml"
    old.write_text(DEFAULT_CONF.read_text().replace("[prior_training]", "[training]"))
    monkeypatch.setenv("ENCRYPTFACE_CONF", str(old))
    with pytest.raises(SettingsError, match=r"was renamed \[prior_training\]"):
        load_settings(environ={})


@pytest.mark.parametrize(("override", "new"), [
    ("encrypt.stylegan_model=stylegan", "stylegan.model"),
    ("encrypt.stylegan_min_face=8", "stylegan.min_face"),
    ("stylegan_training.candidates=3", "stylegan.candidates"),
    ("stylegan_training.mask_width=1.9", "stylegan.mask_width"),
])
def test_the_stylegan_knobs_live_in_their_own_section_and_the_old_names_say_where(override, new):
    """The render and blend knobs moved from [stylegan_training] / the model's config.json and the
    two [encrypt] keys into [stylegan] (#30: one home per setting)."""
    with pytest.raises(SettingsError, match=f"was renamed {new}$"):
        load_settings(None, [override], environ={})
    assert load_settings(None, [f"{new}={override.partition('=')[2]}"], environ={})


def test_every_preset_loads_over_the_defaults():
    """conf/presets/*.toml are `--conf` files: each is checked like any settings file."""
    from encryptface.config import resolve_repo_path

    presets = sorted(resolve_repo_path("conf/presets").glob("*.toml"))
    assert presets
    for preset in presets:
        assert load_settings(preset, environ={})
    assert load_settings(resolve_repo_path("conf/presets/fast.toml"), environ={}).stylegan.pose_passes == 0
