#!/usr/bin/env python3
"""smq's adapter to Wan2GP (wgp.py): one long-lived process, JSON lines on stdin/stdout.

Protocol (see README.md beside this file):
  -> {"id": "...", "op": "hello"}
  <- {"id": "...", "type": "hello", "version": "1", "protocol": 1}
  -> {"id": "...", "op": "generate", "params": {prompt, negative_prompt, resolution "WxH",
      video_length, seed, model, video_guide, video_mask, image_refs, overrides, extra, output_dir}}
  <- {"id": "...", "type": "progress", "percent": 0..100}   (any number of times)
  <- {"id": "...", "type": "result", "video_path": "..."}  or  {"id": "...", "type": "error", "message": "..."}

wgp is imported lazily, on the first generate, from $WAN2GP_DIR (default ./Wan2GP). Everything wgp
and torch print goes to stderr: stdout carries protocol lines only.
"""
import glob
import inspect
import json
import os
import sys
import traceback

VERSION = "1"
_PROTOCOL_OUT = sys.stdout
sys.stdout = sys.stderr  # library prints must never corrupt the protocol stream

_wgp = None


def send(msg):
    _PROTOCOL_OUT.write(json.dumps(msg) + "\n")
    _PROTOCOL_OUT.flush()


def wgp_dir():
    return os.path.abspath(os.environ.get("WAN2GP_DIR", "Wan2GP"))


def load_wgp():
    """Imports wgp.py the way the seed's worker did: argv reset, gradio dialogs patched, cwd = Wan2GP."""
    global _wgp
    if _wgp is not None:
        return _wgp
    root = wgp_dir()
    if not os.path.isfile(os.path.join(root, "wgp.py")):
        raise RuntimeError(
            f"cannot import wgp: no wgp.py in {root}; set WAN2GP_DIR to a Wan2GP checkout with its requirements installed"
        )
    sys.path.insert(0, root)
    os.chdir(root)  # wgp resolves ckpts/, loras/, settings/ relative to the working directory
    saved_argv = sys.argv
    sys.argv = ["wgp.py"]
    try:
        try:
            import gradio as gr  # wgp imports it; its dialogs must not need a browser

            gr.Info = lambda msg, *a, **k: print(f"[wgp info] {msg}", file=sys.stderr)
            gr.Warning = lambda msg, *a, **k: print(f"[wgp warning] {msg}", file=sys.stderr)

            def _error(msg, *a, **k):
                raise RuntimeError(f"wgp error: {msg}")

            gr.Error = _error
        except ImportError:
            pass
        import wgp  # noqa: E402
    except Exception as exc:  # ImportError, missing CUDA, missing weights...
        raise RuntimeError(
            f"cannot import wgp from {root}: {type(exc).__name__}: {exc}; set WAN2GP_DIR to a Wan2GP checkout with its requirements installed"
        ) from exc
    finally:
        sys.argv = saved_argv
    _wgp = wgp
    return wgp


GLOBAL_OVERRIDES = {
    "attention_mode": str,
    "compile": str,
    "profile": int,
    "vae_config": int,
    "boost": int,
    "transformer_quantization": str,
    "transformer_dtype_policy": str,
    "text_encoder_quantization": str,
}
SERVER_CONFIG_OVERRIDES = {"vae_precision": "vae_precision", "mixed_precision": "mixed_precision", "preload_policy": "preload_model_policy"}


def apply_overrides(wgp, overrides):
    """The worker's --wgp-* flags: each sets the wgp global (or server_config entry) of that name."""
    for raw_key, value in (overrides or {}).items():
        key = raw_key.replace("-", "_")
        for prefix in ("wgp_",):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key in GLOBAL_OVERRIDES:
            setattr(wgp, key, GLOBAL_OVERRIDES[key](value))
        elif key in SERVER_CONFIG_OVERRIDES:
            target = SERVER_CONFIG_OVERRIDES[key]
            wgp.server_config[target] = list(str(value).replace(",", "")) if key == "preload_policy" else str(value)
        else:
            raise ValueError(f"unknown wgp override {raw_key!r}; known: {sorted(list(GLOBAL_OVERRIDES) + list(SERVER_CONFIG_OVERRIDES))}")


def build_settings(wgp, p):
    """The seed's build_task_state, reduced to what smq sends: model defaults, then extras, then the request."""
    model = p.get("model") or "t2v"
    model_filename = wgp.get_model_filename(model, wgp.transformer_quantization, wgp.transformer_dtype_policy)
    ui = dict(wgp.get_default_settings(model_filename))
    for k, v in (p.get("extra") or {}).items():
        if k not in ("model", "task_id", "output_sub_dir", "frames", "video_length"):
            ui[k] = v
    ui["prompt"] = p.get("prompt") or "Default prompt"
    ui["negative_prompt"] = p.get("negative_prompt") or ui.get("negative_prompt", "")
    ui["resolution"] = p["resolution"]
    ui["video_length"] = int(p["video_length"])
    ui["seed"] = int(p.get("seed", -1))
    ui.setdefault("num_inference_steps", 30)
    if p.get("video_guide"):
        ui["video_guide"] = p["video_guide"]
    if p.get("video_mask"):
        ui["video_mask"] = p["video_mask"]
        ui.setdefault("video_prompt_type", "VM")
    refs = [r for r in (p.get("image_refs") or []) if os.path.isfile(r)]
    if refs:
        from PIL import Image

        ui["image_refs"] = [wgp.convert_image(Image.open(r)) for r in refs]
    return model_filename, ui


def generate(req_id, p):
    wgp = load_wgp()
    apply_overrides(wgp, p.get("overrides"))
    out_dir = os.path.abspath(p["output_dir"])
    os.makedirs(out_dir, exist_ok=True)
    model_filename, ui = build_settings(wgp, p)
    state = {
        "model_filename": model_filename,
        "validate_success": 1,
        "advanced": True,
        "gen": {"queue": [], "file_list": [], "file_settings_list": [], "prompt_no": 1, "prompts_max": 1},
        "loras": [],
        wgp.get_model_type(model_filename): ui,
    }

    def send_cmd(cmd, data=None):
        if cmd == "progress" and isinstance(data, (list, tuple)) and len(data) >= 2:
            step, total = data[0], data[1]
            if isinstance(step, (list, tuple)):
                step, total = step[0], step[1]
            if total:
                send({"id": req_id, "type": "progress", "percent": max(0.0, min(100.0, 100.0 * float(step) / float(total)))})
        elif cmd == "error":
            raise RuntimeError(f"wgp reported an error: {data}")

    # wgp.generate_video's keyword list drifts between versions: pass what this version accepts.
    params = inspect.signature(wgp.generate_video).parameters
    kwargs = {name: ui[name] for name in params if name in ui}
    for name, value in (("state", state), ("send_cmd", send_cmd), ("model_filename", model_filename), ("task", {"id": 1, "params": ui})):
        if name in params:
            kwargs[name] = value
    saved = wgp.save_path
    wgp.save_path = out_dir
    try:
        wgp.generate_video(**kwargs)
    finally:
        wgp.save_path = saved
    videos = sorted(glob.glob(os.path.join(out_dir, "*.mp4")), key=os.path.getmtime)
    if not videos:
        raise RuntimeError(f"wgp finished but wrote no mp4 into {out_dir}")
    # With sliding windows wgp writes one file per window; the last written is the whole video.
    return videos[-1]


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except json.JSONDecodeError as exc:
            send({"type": "error", "message": f"request is not JSON: {exc}"})
            continue
        req_id = req.get("id")
        op = req.get("op")
        try:
            if op == "hello":
                send({"id": req_id, "type": "hello", "version": VERSION, "protocol": 1, "wgp_dir": wgp_dir()})
            elif op == "generate":
                path = generate(req_id, req.get("params") or {})
                send({"id": req_id, "type": "result", "video_path": path})
            else:
                send({"id": req_id, "type": "error", "message": f"unknown op {op!r}; expected hello or generate"})
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            send({"id": req_id, "type": "error", "message": str(exc)})


if __name__ == "__main__":
    main()
