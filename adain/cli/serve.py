"""`adain serve`: a Gradio page on the shipped model (stylise in the browser).

    python -m adain serve                     # http://127.0.0.1:7860, localhost only
    python -m adain serve --host 0.0.0.0 --port 8080 --decoder my.safetensors

The page: a content image (upload or built-in example), up to three styles (built-in or
uploaded) with a weight each, α, colour preservation, stroke size, an optional mask painted on
the content to place two styles, and the method (AdaIN, the shipped Johnson network, Gatys with
a live progress bar).  Requests wait their turn in Gradio's queue.  The work itself is in
adain.cli.serve_jobs; this module only lays out the page and wires its events.
"""

# No `from __future__ import annotations`: Gradio reads the event handlers' annotations
# (gr.SelectData, gr.Progress) as objects.
import os
from pathlib import Path

from adain.cli.serve_jobs import DemoBackend, Job, ServeSettings, mask_from_layers
from adain.core.errors import UserError, require

N_STYLES = 3
SIZES = [("128 px (preview)", 128), ("256 px", 256), ("512 px", 512), ("1024 px", 1024), ("2048 px", 2048),
         ("full resolution (tiled when large)", 0)]
UPSCALES = [("off", 1), ("×2 (stylise at ½, super-resolve)", 2), ("×4 (stylise at ¼, super-resolve)", 4)]
METHODS = [("AdaIN (any style, one pass)", "adain"), ("Johnson (its Van Gogh network)", "johnson"),
           ("Gatys (optimisation, slow)", "gatys")]
# preserve_color values, and "style" for content_colors="style" (the photo takes the style's colours first)
COLOUR_CHOICES = [("the stylisation's", "none"), ("the photo's (histogram)", "histogram"),
                  ("the photo's (luminance only)", "luminance"), ("the style's, photo recoloured first", "style")]
# System fonts only: the page must not wait for a font server it cannot reach.
FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO = ["ui-monospace", "monospace"]


def _import_gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    return require("gradio", "adain serve")


def _upload_image(gr, **kwargs):
    """gr.Image (type "filepath") that hands the handler the uploaded file's path without
    decoding it first, so that a non-image or a truncated file reaches adain.core.io's checks (and
    their one-line messages) instead of failing inside Gradio with a bare "Error".

    The instance's `preprocess` is replaced rather than subclassing gr.Image: Gradio writes a
    .pyi stub beside the source file of every component subclass."""
    image = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], **kwargs)
    image.preprocess = lambda payload: None if payload is None else payload.path
    return image


def build_app(backend: DemoBackend):
    """The page as a gr.Blocks (not launched)."""
    gr = _import_gradio()
    from adain.cli.examples import example_contents, example_styles

    contents, builtin_styles = example_contents(), example_styles()

    def user_error(exc: UserError):
        return gr.Error(str(exc), print_exception=False)

    with gr.Blocks(title="adain: style transfer", analytics_enabled=False) as app:
        gr.Markdown("## adain: arbitrary style transfer\nUpload a photo (or pick one), choose one or more styles, "
                    "press **Stylise**. AdaIN (Huang & Belongie 2017) applies any style in one forward pass.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                content = _upload_image(gr, label="Content", height=300, elem_id="content")
                content_info = gr.Markdown(elem_id="content-info")
                gr.Examples([[str(p)] for p in contents], inputs=content, label="Built-in contents")
                with gr.Accordion("Mask: place two styles (optional)", open=False,
                                  elem_id="mask-accordion") as mask_panel:
                    gr.Markdown("Paint over the content: style 1 goes where you paint, style 2 everywhere else.")
                    mask = gr.ImageEditor(label="Mask", type="pil", image_mode="RGBA", sources=[], layers=False,
                                          transforms=[], brush=gr.Brush(colors=[("#e02020", 0.6)], color_mode="fixed"),
                                          height=360, elem_id="mask")
            with gr.Column(scale=1):
                output = gr.Image(label="Output", type="filepath", format="png", interactive=False, height=300,
                                  elem_id="output")
                run = gr.Button("Stylise", variant="primary", elem_id="run")
                status = gr.Markdown(elem_id="status")
                download = gr.DownloadButton("Download (full resolution PNG)", visible=False, size="sm",
                                             elem_id="download")

        with gr.Row(equal_height=True):
            gallery = gr.Gallery([(str(p), p.stem.replace("_", " ")) for p in builtin_styles], columns=4,
                                 height=130, allow_preview=False, fit_columns=False, buttons=[], scale=3,
                                 label="Built-in styles: click to add", elem_id="style-gallery")
            many = gr.UploadButton("Upload styles (one or several)", file_count="multiple", file_types=["image"],
                                   scale=1, elem_id="styles-upload")
        slots, weights = [], []
        with gr.Row():
            for k in range(1, N_STYLES + 1):
                with gr.Column(min_width=160):
                    slots.append(_upload_image(gr, label=f"Style {k}", height=150, elem_id=f"style-{k}"))
                    weights.append(gr.Slider(0, 1, value=1.0, step=0.05, label=f"Weight {k}",
                                             elem_id=f"weight-{k}"))
        with gr.Row():
            method = gr.Radio(METHODS, value="adain", label="Method", elem_id="method", scale=2)
            size = gr.Dropdown(SIZES, value=512, label="Output size (shorter side)", elem_id="size", scale=1)
            upscale = gr.Dropdown(UPSCALES, value=1, label="Super-resolution (larger strokes, faster at 4K)",
                                  elem_id="upscale", scale=1)
        with gr.Row():
            alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="α: content ↔ style", elem_id="alpha")
            scale = gr.Slider(0.25, 4, value=1.0, step=0.25, label="Stroke size (style scale)", elem_id="stroke")
            iterations = gr.Slider(1, 500, value=100, step=1, label="Gatys iterations (per scale)",
                                   visible=False, elem_id="iterations")
            color = gr.Radio(COLOUR_CHOICES, value="none", label="Colours", elem_id="color")

        # --- events ---------------------------------------------------------------------------
        # The mask editor gets the content as its background only while its panel is open: an
        # editor filled while hidden has no size and cannot be painted on.
        mask_open = gr.State(False)

        def mask_background(path):
            return {"background": path, "layers": [], "composite": None} if path else None

        def on_content(path, panel_open):
            if not path:
                return "", None
            try:
                text = backend.describe(path)
            except UserError as exc:  # shown under the upload (a toast would stack on every change)
                return f"⚠️ **{exc}**", None
            return text, mask_background(path) if panel_open else None

        content.change(on_content, [content, mask_open], [content_info, mask], show_progress="hidden")
        mask_panel.expand(lambda path: (True, mask_background(path)), content, [mask_open, mask],
                          show_progress="hidden")
        mask_panel.collapse(lambda: False, None, mask_open, show_progress="hidden")

        def add_builtin(evt: gr.SelectData, *current):
            path = str(builtin_styles[evt.index])
            filled = list(current)
            free = next((i for i, value in enumerate(filled) if not value), N_STYLES - 1)
            filled[free] = path
            return filled

        gallery.select(add_builtin, slots, slots, show_progress="hidden")

        def add_many(files):
            paths = [getattr(f, "name", f) for f in (files or [])][:N_STYLES]
            return [*paths, *[None] * (N_STYLES - len(paths))] if paths else [gr.update()] * N_STYLES

        many.upload(add_many, many, slots, show_progress="hidden")

        def on_method(name):
            return (gr.update(visible=name == "adain"), gr.update(visible=name == "gatys"),
                    gr.update(visible=name != "johnson"))

        method.change(on_method, method, [alpha, iterations, scale], show_progress="hidden")

        def stylise(content_path, method_name, alpha_value, scale_value, iterations_value, color_value,
                    size_value, upscale_value, mask_value, *slot_values, progress=gr.Progress()):
            paths, style_weights = slot_values[:N_STYLES], slot_values[N_STYLES:]
            painted = None
            if mask_value and content_path:
                layers = list(mask_value.get("layers") or [])
                try:
                    content_size = backend.open_upload(content_path, "content").size
                except UserError as exc:
                    raise user_error(exc) from None
                painted = mask_from_layers(layers, content_size)
            preserve_color, content_colors = ("none", "style") if color_value == "style" else (color_value, "keep")
            job = Job(content=content_path, styles=list(zip(paths, style_weights)), method=method_name,
                      alpha=float(alpha_value), preserve_color=preserve_color, content_colors=content_colors,
                      content_size=int(size_value),
                      style_scale=float(scale_value), mask=painted, iterations=int(iterations_value),
                      upscale=int(upscale_value))
            try:
                result = backend.run(job, lambda done, total, text: progress((done, total), desc=text))
            except UserError as exc:
                raise user_error(exc) from None
            return (str(result.path), gr.update(value=str(result.path), visible=True), result.note)

        run.click(stylise, [content, method, alpha, scale, iterations, color, size, upscale, mask, *slots, *weights],
                  [output, download, status], concurrency_limit=1, show_progress_on=output)
    return app


def launch(app, host: str = "127.0.0.1", port: int = 7860, max_file_size: str = "100mb",
           block: bool = True, allowed_paths: list[str] | None = None):
    """Start the server with Gradio's queue (one job at a time, the others wait their turn)."""
    gr = _import_gradio()
    theme = gr.themes.Default(font=FONTS, font_mono=MONO)
    app.queue(max_size=32, default_concurrency_limit=1)
    return app.launch(server_name=host, server_port=port, max_file_size=max_file_size, theme=theme,
                      prevent_thread_lock=not block, ssr_mode=False, show_error=False,
                      allowed_paths=allowed_paths, footer_links=[])


def run_serve(args) -> int:
    """`adain serve`: load the model (a bad --decoder fails here, before the server starts), serve."""
    settings = ServeSettings(decoder=args.decoder, device=args.device, precision=args.precision,
                             johnson_model=args.johnson_model or ServeSettings.johnson_model,
                             max_pixels=args.max_pixels, max_memory=args.max_memory)
    if not Path(settings.johnson_model).is_file():
        raise UserError(f"{settings.johnson_model}: johnson model file not found")
    backend = DemoBackend(settings)
    app = build_app(backend)
    from adain.cli.examples import example_contents

    examples_dir = str(example_contents()[0].parent)
    print(f"adain serve: http://{args.host}:{args.port} (Ctrl+C stops)", flush=True)
    launch(app, args.host, args.port, allowed_paths=[examples_dir, str(backend.results_dir)])
    return 0
