#!/usr/bin/env bash
# The demo model and the QAT experiment end to end (see docs/QAT.md). Seeded; about 40 min of wall time on 2 busy
# shared cores.
#   tools/qat/run_experiment.sh [OUT_DIR]        (default tools/out/qat)
# Needs: apt-get install bible-kjv bible-kjv-text; pip install torch sentencepiece gguf numpy jinja2.
# The shipped models/jemma-demo.gguf is OUT_DIR/qat-Q4_0.gguf.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/tools/out/qat}"
mkdir -p "$out"
jemma="$root/jemma"

# 1. corpus, tokenizer, pretraining, chat fine-tuning (the real Gemma 3 template; loss on model turns and their
#    <end_of_turn>), QAT fine-tune (every weight, the tied embedding included, fake-quantized to Q4_0); exports
#    base-F32.gguf (pretrained), chat-F32.gguf and qat-F32.gguf
nice -n 10 python3 "$root/tools/qat/train.py" "$out" --pure

# 2. post-training quantization of the chat model, and the QAT weights quantized the same way (all Q4_0)
"$jemma" quantize "$out/chat-F32.gguf" "$out/ptq-Q4_0.gguf" Q4_0 --pure
"$jemma" quantize "$out/qat-F32.gguf"  "$out/qat-Q4_0.gguf" Q4_0 --pure

# 3. the exported GGUF computes what torch computed, and the QAT Q4_0 file holds exactly the trained weights
nice -n 10 python3 "$root/tools/qat/check_export.py" "$out" "$out/chat.pt"
nice -n 10 python3 "$root/tools/qat/check_export.py" "$out" "$out/qat.pt" "$out/qat-Q4_0.gguf"

# 4. perplexity on held-out chapters; KL divergence of each Q4_0 file against the F32 chat model (and what the chat
#    fine-tuning cost the pretrained model's perplexity)
ppl() { nice -n 10 "$jemma" perplexity "$@" -c 128 2>/dev/null; }
ppl "$out/base-F32.gguf" -f "$out/heldout.txt" | tee "$out/ppl-base.txt"
ppl "$out/chat-F32.gguf" -f "$out/heldout.txt" --kl-divergence-base "$out/chat.kld" | tee "$out/ppl-f32.txt"
ppl "$out/ptq-Q4_0.gguf" --kl-divergence-base "$out/chat.kld" --kl-divergence | tee "$out/kld-ptq.txt"
ppl "$out/qat-Q4_0.gguf" --kl-divergence-base "$out/chat.kld" --kl-divergence | tee "$out/kld-qat.txt"
ppl "$out/qat-F32.gguf" --kl-divergence-base "$out/chat.kld" --kl-divergence | tee "$out/kld-qat-f32.txt"

# 5. do chat answers end? torch with Q4_0 fake quantization, greedy and sampled, on prompts training never used
nice -n 10 python3 "$root/tools/qat/check_ends.py" "$out" "$out/qat.pt" --quantized | tee "$out/ends.txt"

# 6. summary: share of the perplexity increase that QAT removes
python3 - "$out" <<'PY'
import re, sys
from pathlib import Path
out = Path(sys.argv[1])
f32 = float(re.search(r"PPL = ([0-9.]+)", (out / "ppl-f32.txt").read_text()).group(1))
def q(name):
    t = (out / name).read_text()
    return (float(re.search(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)", t).group(1)),
            float(re.search(r"Mean    KLD:\s*([0-9.]+)", t).group(1)),
            float(re.search(r"Same top p:\s*([0-9.]+)", t).group(1)))
ptq, qat = q("kld-ptq.txt"), q("kld-qat.txt")
share = (ptq[0] - qat[0]) / (ptq[0] - f32)
print(f"F32 {f32:.4f} | PTQ Q4_0 {ptq[0]:.4f} (KLD {ptq[1]:.4f}, top-1 {ptq[2]:.1f}%) | "
      f"QAT Q4_0 {qat[0]:.4f} (KLD {qat[1]:.4f}, top-1 {qat[2]:.1f}%) | QAT removes {100 * share:.1f}% of the PTQ drop")
PY
