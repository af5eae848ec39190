"""A row of the paper's tables as a `RunConfig`: a shipped row's name (`wise`, `hr_dmf`, ...)
or a YAML file, plus `--set` overrides, every value checked against the field it sets,
`model_args` against the model family's own config class (`wise.models.build`).

It lives above the models, so that `wise.config` (the plain dataclasses every layer reads)
knows nothing of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wise.config import (
    CONFIG_DIR,
    CVConfig,
    FeatureConfig,
    RunConfig,
    TrainConfig,
    field_defaults,
    override,
)
from wise.errors import WiseError
from wise.models.build import model_config_class

SECTIONS = {"features": FeatureConfig, "train": TrainConfig, "cv": CVConfig}


def run_config(data: dict, sets: Sequence[str] = (), source: str = "") -> RunConfig:
    """Build a RunConfig from a YAML mapping plus `key=value` overrides.

    An override names a field of the model's config, of `train`, `features` or `cv`, either
    plainly (`lr=0.002`) or with its section (`train.lr=0.002`, `model.text_dim=300`); see
    `wise.config.override`, the one parser of `--set`."""
    data = dict(data or {})
    unknown = set(data) - {"name", "model", "model_args", *SECTIONS}
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    model = str(data.get("model", "wise"))
    model_cls = model_config_class(model)
    # `model` is the section of `model_args` (`--set model.text_dim=300`, or model_args.).
    classes = {"model": model_cls, **SECTIONS}
    values = override({"model": data.get("model_args") or {},
                       **{name: data.get(name) or {} for name in SECTIONS}},
                      {name: field_defaults(cls) for name, cls in classes.items()}, sets,
                      aliases={"model_args": "model"})
    model_cls(**values["model"])  # validate now, not at the first fold
    return RunConfig(name=str(data.get("name", model)), model=model,
                     model_args=values["model"],
                     features=FeatureConfig(**values["features"]),
                     train=TrainConfig(**values["train"]), cv=CVConfig(**values["cv"]))


def load_run_config(path: str | Path, sets: Sequence[str] = ()) -> RunConfig:
    """Load a YAML file, or a shipped config by name (`wise`, `hr_dmf`, ...)."""
    import yaml

    path = Path(path)
    if not path.is_file() and path.suffix == "" and (CONFIG_DIR / f"{path}.yaml").is_file():
        path = CONFIG_DIR / f"{path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise WiseError(path, f"config file not found (shipped configs: {known})")
    # libyaml where installed: it refuses deep nesting at once, where the pure-Python loader
    # takes seconds to overflow the stack on a line of "[[[[...".
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        if not isinstance(data, dict):
            raise ValueError("not a mapping")
        return run_config(data, sets, source=path.name)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as e:
        raise WiseError(path, (str(e).splitlines() or [type(e).__name__])[0][:200]) from None
