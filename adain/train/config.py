"""Configuration schemas: the dataclasses are the single source of defaults.

YAML files under configs/ hold only what differs; `key=value` dot-overrides come last.  The merge
uses OmegaConf *structured* configs, so a misspelt key or a wrong type is an error.

    cfg = load_config("configs/train/default.yaml", ["optim.lr=2e-4", "time_limit_min=60"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from adain.core.errors import UserError


@dataclass
class DataConfig:
    """Folders (recursive) or manifest files (.txt/.csv, one path per line) of images."""

    content: str = "../shared/data/content/train"
    style: str = "../shared/data/style/train"
    val_content: str = "../shared/data/content/val"
    val_style: str = "../shared/data/style/val"
    load_size: int = 512  # shorter side after loading (the paper: 512)
    crop_size: int = 256  # random square crop (the paper: 256)
    hflip: bool = True  # random horizontal flips
    cache_images: bool = True  # keep decoded, resized images in memory (uint8)
    workers: int = 0  # DataLoader worker processes (0: load in the training process)


@dataclass
class ModelConfig:
    encoder: str = "vgg16-hed"
    # A converted encoder file to use instead of locating the source (machines without it; a file
    # of the first layers from adain.nn.pretrained.save_encoder_prefix is enough for AdaIN training).
    encoder_weights: Optional[str] = None
    decoder_padding: str = "reflect"
    # Fixed factor on the decoder's relu4_1 input (adain.nn.decoder.Decoder): 1/256 for vgg16-imagenet,
    # whose features are ~30× larger than vgg16-hed's; a warm start keeps its decoder's own factor.
    decoder_input_scale: float = 1.0
    # ×2 upsampling of the decoder (adain.nn.decoder.UPSAMPLE_MODES).  None: "nearest" for a new
    # decoder, the warm start's own mode with init_decoder; set, it also overrides a warm start's
    # (the mode has no weights: a nearest decoder can be fine-tuned as a bilinear one).
    decoder_upsample: Optional[str] = None
    # Give the decoder the style's RGB mean/std (adain.nn.decoder.Decoder.add_palette_head).  A warm
    # start without a palette head gets one that starts at zero, so it begins as it was.
    decoder_palette: bool = False
    # Give the decoder the AdaIN targets at these shallower taps too (adain.nn.decoder.SKIP_TAPS,
    # Decoder.add_skips).  A warm start without them gets zero-initialised ones: it begins as it was.
    decoder_skips: list[str] = field(default_factory=list)


@dataclass
class OptimConfig:
    """Adam with the inverse-decay schedule of the official code: lr / (1 + lr_decay · step).

    style_weight λ multiplies Σ_l (MSE(μ) + MSE(σ)) where MSE is the *mean* over channels, as in
    the widely used PyTorch port (λ = 10).  The official Torch code sums over channels and uses
    λ = 1e-2; the two differ by the channel count per layer, so their λ values do not transfer.

    loss_scale "relative" divides the content term by the target's energy and each style layer by
    the style's energy (adain.nn.losses.training.relative_*): the training form of design.md's two numbers.
    With `vgg16-hed` the raw terms are dominated by relu1_1/relu2_1 style statistics (see
    adain.nn.losses.training.relative_style_stats_loss), so λ means something else under each setting.
    The default recipe (configs/train/default.yaml) trains with "relative" from the encoder alone,
    after a reconstruction stage (in a toy run a fresh decoder at lr 1e-3 was unstable with it).
    """

    lr: float = 1e-4
    lr_decay: float = 5e-5
    batch_size: int = 8
    content_weight: float = 1.0
    style_weight: float = 10.0
    loss_scale: str = "raw"  # raw: the paper's MSE terms | relative: each term over its target's energy
    # Content term on lightness alone: φ₄ of the output's grey image against AdaIN of the grey
    # photo's relu4_1 with the grey style's statistics, in place of the colour target AdaIN(φ₄(c), φ₄(s)).
    # Off: trained through the last stages it leaked more of the photo's colours, not less
    # (experiments/training/README.md).  Costs per step three more passes to
    # relu4_1: the grey output's (with its backward), the grey photo's and the grey style's.
    content_luma: bool = False
    # Score the decoded image as it is delivered, clamped to [0, 1]: ~7 % of an unclamped
    # decoder's pixels fall outside, and clamping them at inference costs it ~0.02 relative style.
    clamp_output: bool = False
    grad_clip: float = 0.0  # 0: no clipping
    # Identity (reconstruction) term, as the WCT decoders were trained and SANet/StyTr² keep during
    # style training: the content's own relu4_1 features must decode back to the content,
    #   identity_weight · (Σ_l ‖φ_l(g(φ₄(c))) − φ_l(c)‖² / ‖φ_l(c)‖²  +  identity_pixel_weight · |g(φ₄(c)) − c|₁)
    # over relu1_1…relu4_1.  With content_weight = style_weight = 0 the run trains a pure
    # reconstruction decoder (no style batches are encoded), the easiest start for a decoder.
    identity_weight: float = 0.0
    identity_pixel_weight: float = 1.0
    # Colour term: the decoded image's per-channel RGB mean and std must match the style image's,
    #   colour_weight · Σ_c (μ_c(g(t)) − μ_c(s))² + colour_std_weight · (σ_c(g(t)) − σ_c(s))²   in [0, 1] units,
    # the pixels as a "layer 0" of the AdaIN style loss.  relu1_1's 64 statistics did not pin the
    # palette: decoders trained without it come out paler than the style.
    colour_weight: float = 0.0
    # The spread half's share of the colour term: it pays for light-and-dark rims along edges
    # (experiments/eval/artefacts/README.md); 0 matches the means alone.
    colour_std_weight: float = 1.0
    # Learning-rate factor for a palette decoder's head (model.decoder_palette): a fresh layer
    # beside trained ones.  At the decoder's 1e-4 its zero-initialised output layer moved ~1e-3 in
    # 200 steps and changed no colour (docs/history.md, the palette input).
    palette_lr_scale: float = 1.0
    # Likewise for a skip decoder's zero-initialised projections (model.decoder_skips).
    skip_lr_scale: float = 1.0
    # Structure term (adain.nn.losses.training.structure_loss): the stylised image's instance-normalised
    # features at `structure_taps` must match the content's, pricing texture that moves the
    # content's edges but not the statistics the style loss sets.  Decoders trained without it
    # kept ~0.6× Magenta's fine detail and lost on EfficientNet content distance.
    structure_weight: float = 0.0
    structure_taps: list[str] = field(default_factory=lambda: ["relu2_1", "relu3_1"])
    # Sliced Wasserstein term (adain.nn.losses.training.sliced_wasserstein_loss): the decoded image's pixels
    # ("rgb") and features at the other `sw_taps` must have the style's whole distribution, each
    # tap seen along `sw_projections` random directions per step, relative to the style's energy:
    #   sw_weight · Σ_tap SW₂²(φ_tap(g(t)), φ_tap(s)) / E[φ_tap(s)²]
    # Mean/std targets admit a grey blend of a bimodal palette; quantiles do not.
    sw_weight: float = 0.0
    sw_taps: list[str] = field(default_factory=lambda: ["rgb", "relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    sw_projections: int = 64
    # Texture floor (adain.nn.losses.training.texture_floor_loss): every texture_floor_window-px window
    # of the output must hold, at each of `texture_floor_taps`, at least the texture energy that the
    # style's windows reach at `texture_floor_quantile`:
    #   texture_floor_weight · Σ_tap mean_windows relu(1 − E_tap(g(t)) / E_tap^q(s))²
    # The whole-image terms above are met with texture on the photo's edges alone; flat regions are
    # left to low-frequency patches (the blotch measure).  Off: at weight 30 in `distil` it filled
    # flat regions (0.54 → 0.77 of the style's window energy; Magenta 0.84) and lowered blotch and
    # muddiness, but blind judges preferred the decoder without it (docs/training.md).
    texture_floor_weight: float = 0.0
    texture_floor_taps: list[str] = field(default_factory=lambda: ["relu1_1", "relu2_1"])
    texture_floor_window: int = 16
    texture_floor_quantile: float = 0.5
    # Distillation from supersampling (adain.inference.supersample): the output must match what a
    # frozen teacher decoder paints with the content enlarged distil_factor× (bicubic), reduced back
    # (bilinear, antialiased): T.  Its texture is distil_factor× finer against the picture, which
    # blind judges preferred in 91 % of choices; learnt, the look costs one ×1 pass.
    #   distil_weight · (Σ_l ‖φ_l(g(t)) − φ_l(T)‖² / ‖φ_l(T)‖²  +  distil_pixel_weight · |g(t) − T|₁)
    # over relu1_1…relu4_1.  The teacher: distil_teacher, a decoder file, or else the stage's
    # init_decoder (its start).  distil_pixel_weight 0 keeps the feature term alone: the decoder
    # came out no less muddy and with more colour leak (experiments/training/README.md).
    distil_weight: float = 0.0
    distil_pixel_weight: float = 1.0
    distil_factor: int = 2
    distil_teacher: Optional[str] = None


@dataclass
class JohnsonConfig:
    """Loss weights and taps of Johnson et al. (2016), used when `method: johnson`.

    Style: Gram matrices at relu1_2, relu2_2, relu3_3, relu4_3 of the VGG-16 encoder (the paper's
    taps), each layer's term divided by the mean square of the style's own Gram matrix (so that
    every layer counts; see adain.nn.losses.training.gram_style_loss); content: relu2_2, a plain MSE.  With
    the vgg16-hed encoder's 0–255 inputs, relu2_2 of photos has a mean square of ~650, so
    content_weight 4e-3 prices losing the content entirely (a relative change of ~1) at ~2.6,
    against a style loss of ~4 for the unchanged photo and ~0.5 for the painting itself: the
    optimum keeps the layout (1e-3 gave texture without content after 100 steps).  Measured on
    this encoder; the values do not transfer to other implementations.
    """

    content_weight: float = 4.0e-3
    style_weight: float = 1.0
    tv_weight: float = 0.0  # total-variation regulariser (paper §3.3) on [0, 1] images; 0: off
    style_size: int = 256  # shorter side of the style image whose Gram matrices are the target
    style_taps: list[str] = field(default_factory=lambda: ["relu1_2", "relu2_2", "relu3_3", "relu4_3"])
    content_tap: str = "relu2_2"
    normalise_style_layers: bool = True  # per-layer weights 1 / mean(G_j(style)²); False: the paper's 1
    residual_blocks: int = 5


@dataclass
class WandbConfig:
    mode: str = "offline"  # online | offline | disabled
    project: str = "adain"
    entity: Optional[str] = None
    name: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class StageConfig:
    """One stage of a staged recipe (adain.train.stages): `steps` steps with `overrides` (key=value, as on
    the command line) applied on top of the recipe's settings (not on the previous stage's).  A
    stage starts from the previous stage's last decoder with a fresh optimiser and schedule; heads
    a stage adds (palette, skips) start at zero, so the decoder begins where it was left."""

    name: str = "main"
    steps: int = 1000
    overrides: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    method: str = "adain"  # adain (one decoder for every style) | johnson (one network per style)
    style: Optional[str] = None  # johnson: the one style image the network learns
    steps: int = 160_000
    # Stop cleanly (validate, checkpoint) after this many minutes of wall time, 0: no limit; for
    # machines lent in slices (a GPU command of at most 10 minutes) and CPU runs in chunks.
    time_limit_min: float = 0.0
    seed: int = 0
    run_dir: str = "runs/adain"
    device: str = "auto"
    precision: str = "auto"  # bf16 autocast where fast (AMX CPUs, CUDA), else fp32
    compile: bool = False  # torch.compile the decoder (falls back to eager on failure)
    init_decoder: Optional[str] = None  # warm start from a decoder file
    resume: Optional[str] = None  # a checkpoint path, or "auto" for run_dir/checkpoints/latest.pt
    checkpoint_every: int = 500
    keep_checkpoints: int = 3  # numbered checkpoints kept besides latest.pt and best.pt
    log_every: int = 10
    image_every: int = 500
    val_every: int = 500
    val_pairs: int = 16  # content/val × style/val pairs scored at each validation
    val_size: int = 256  # validation outputs are val_size² (centre crop of the content)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    johnson: JohnsonConfig = field(default_factory=JohnsonConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    # A staged recipe (adain.train.stages): each stage trains in run_dir/<k>-<name>/ and the last one's
    # checkpoints are averaged into run_dir/decoder.safetensors.  Empty: one run in run_dir.
    stages: list[StageConfig] = field(default_factory=list)
    # The stage a run belongs to (set by adain.train.stages for each stage; recorded in its checkpoints).
    stage: Optional[str] = None
    # Decoder shipped at the end of a staged recipe: the mean of the last stage's final checkpoint
    # and its `average_last − 1` newest numbered ones (checkpoint averaging, adain.train.export).
    average_last: int = 1


def _split_stage_overrides(overrides: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Separate `stages.<name>.<key>=<value>` (one stage's override, by the stage's name) from the
    overrides of the whole config; returns (whole-config overrides, [(stage name, "<key>=<value>")])."""
    plain, scoped = [], []
    for item in overrides:
        key = item.split("=", 1)[0]
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == "stages" and not parts[1].isdigit() and "=" in item:
            scoped.append((parts[1], f"{parts[2]}={item.split('=', 1)[1]}"))
        else:
            plain.append(item)
    return plain, scoped


def load_config(path: str | Path | None, overrides: Sequence[str] = (), schema: type = TrainConfig):
    """Defaults ← YAML file ← dot-overrides, validated against `schema`.

    `stages.<name>.<key>=<value>` changes one key in one stage of a staged recipe (appended to that
    stage's overrides, so it wins over them): `stages.distil.optim.content_weight=1.0`.
    Raises UserError for a missing file, bad YAML, an unknown key or stage, or a value of the wrong type.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    overrides, stage_overrides = _split_stage_overrides(overrides)
    cfg = OmegaConf.structured(schema)
    try:
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise UserError(f"{path}: config file not found")
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        if overrides:
            bad = [o for o in overrides if "=" not in o]
            if bad:
                raise UserError(f"override {bad[0]!r}: expected key=value")
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except TypeError as exc:  # a dot-override into a list ("stages.0.steps=2"): OmegaConf cannot merge it
        raise UserError(f"config: {exc}; a list (e.g. stages) is set whole in the YAML, not by index "
                        f"(one stage's key: stages.<name>.<key>=<value>)") from None
    except OmegaConfBaseException as exc:
        message = str(exc).splitlines()[0]
        key = getattr(exc, "full_key", None)
        where = f" {path}" if path else ""
        raise UserError(f"config{where}: {f'key {key!r}: ' if key else ''}{message}") from None
    stages = {stage.name: stage for stage in getattr(cfg, "stages", [])}
    for name, item in stage_overrides:  # each key is checked when the stage's config is resolved
        if not stages:
            raise UserError(f"override 'stages.{name}.{item}': this config has no stages; "
                            f"stages.<name>.<key>=<value> applies to a staged recipe only")
        if name not in stages:
            raise UserError(f"override 'stages.{name}.{item}': no stage {name!r}; expected one of the recipe's "
                            f"stages {list(stages)}")
        key, value = item.split("=", 1)
        if key == "steps":  # the stage's own length, not a key of its config
            if not value.strip().isdecimal() or not value.strip().isascii():
                raise UserError(f"override 'stages.{name}.steps={value}': expected a whole number of steps")
            stages[name].steps = int(value)
        else:
            stages[name].overrides = [*stages[name].overrides, item]
    return cfg


def to_dict(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


def portable(value, root: Path | None = None):
    """`value` (a config dict) without the paths of one machine: an absolute path inside the
    project becomes relative to it, any other absolute path keeps only its last two parts."""
    root = root or Path(__file__).resolve().parents[2]  # the project folder
    if isinstance(value, dict):
        return {key: portable(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, root) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            return str(Path("…", *path.parts[-2:]))
    return value
