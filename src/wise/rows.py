"""A row of the paper's tables as a `RunConfig`: a shipped row's name (`wise`, `hr_dmf`, ...)
or a YAML file, plus `--set` overrides, every value checked against the field it sets,
`model_args` against the model family's own config class (`wise.models.build`).

It lives above the models, so that `wise.config` (the plain dataclasses every layer reads)
knows nothing of them."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

from wise.config import (
    CONFIG_DIR,
    CVConfig,
    FeatureConfig,
    RunConfig,
    TrainConfig,
    coerce_value,
)
from wise.errors import WiseError
from wise.models.build import model_config_class

SECTIONS = {"features": FeatureConfig, "train": TrainConfig, "cv": CVConfig}


def run_config(data: dict, sets: list[str] = (), source: str = "") -> RunConfig:
    """Build a RunConfig from a YAML mapping plus `key=value` overrides.

    An override names a field of the model's config, of `train`, `features` or `cv`, either
    plainly (`lr=0.002`) or with its section (`train.lr=0.002`)."""
    import yaml

    data = dict(data or {})
    unknown = set(data) - {"name", "model", "model_args", *SECTIONS}
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    model = str(data.get("model", "wise"))
    model_cls = model_config_class(model)
    sections = {"model_args": dict(data.get("model_args") or {})}
    for name in SECTIONS:
        sections[name] = dict(data.get(name) or {})
    defaults = {"model_args": {f.name: f.default for f in fields(model_cls)}}
    for name, cls in SECTIONS.items():
        defaults[name] = asdict(cls())
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        section, _, field_name = key.rpartition(".")
        owners = [section] if section else [s for s in defaults if field_name in defaults[s]]
        if section == "model":
            owners = ["model_args"]
        if len(owners) != 1 or field_name not in defaults.get(owners[0], {}):
            where = "no section has it" if not owners else f"in {', '.join(owners)}"
            raise ValueError(f"--set {item!r}: unknown or ambiguous option ({where}); "
                             f"write SECTION.KEY=VALUE")
        sections[owners[0]][field_name] = yaml.safe_load(raw)
    for name, values in sections.items():
        for k, v in values.items():
            if k not in defaults[name]:
                raise ValueError(f"{source}: {name}: unknown option {k!r}")
            values[k] = coerce_value(v, defaults[name][k], f"{name}.{k}")
    model_cls(**sections["model_args"])  # validate now, not at the first fold
    return RunConfig(name=str(data.get("name", model)), model=model,
                     model_args=sections["model_args"],
                     features=FeatureConfig(**sections["features"]),
                     train=TrainConfig(**sections["train"]), cv=CVConfig(**sections["cv"]))


def load_run_config(path: str | Path, sets: list[str] = ()) -> RunConfig:
    """Load a YAML file, or a shipped config by name (`wise`, `hr_dmf`, ...)."""
    import yaml

    path = Path(path)
    if not path.is_file() and path.suffix == "" and (CONFIG_DIR / f"{path}.yaml").is_file():
        path = CONFIG_DIR / f"{path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise WiseError(path, f"config file not found (shipped configs: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("not a mapping")
        return run_config(data, sets, source=path.name)
    except (yaml.YAMLError, ValueError, TypeError) as e:
        raise WiseError(path, str(e).splitlines()[0]) from None
