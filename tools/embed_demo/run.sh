#!/usr/bin/env bash
# Rebuilds the demo embedding model and its figures (see docs/EMBEDDINGS.md). Seeded; about 15 min of wall time on
# 2 busy shared cores.
#   tools/embed_demo/run.sh [OUT_DIR]        (default tools/out/embed_demo)
# Needs: apt-get install bible-kjv bible-kjv-text; pip install torch sentencepiece protobuf gguf numpy.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/tools/out/embed_demo}"
mkdir -p "$out"
jemma="$root/jemma"

# 1. the RAG example's documents (held-out KJV chapters); examples/rag/questions.json is hand-written
python3 "$root/tools/embed_demo/make_docs.py" "$root/examples/rag/docs"

# 2. contrastive training from the demo chat model; exports embed-F32.gguf
nice -n 10 python3 "$root/tools/embed_demo/train.py" "$out"

# 3. the shipped file: Q8_0 (every matrix, token_embd included; norms stay F32)
"$jemma" quantize "$out/embed-F32.gguf" "$out/jemma-embed-demo.gguf" Q8_0 --pure

# 4. Jemma computes what torch computes: the F32 export against the trained checkpoint, the Q8_0 file against
#    torch on its own dequantised weights (max |d| <= 1e-5 in --exact mode)
nice -n 10 python3 "$root/tools/embed_demo/check_export.py" "$out/embed-F32.gguf" "$out/embed.pt"
nice -n 10 python3 "$root/tools/embed_demo/check_export.py" "$out/jemma-embed-demo.gguf" "$out/embed.pt"

# 5. retrieval recall@3 on examples/rag, every vector from `jemma embed`
nice -n 10 python3 "$root/tools/embed_demo/recall.py" "$out/jemma-embed-demo.gguf" --dims 64,32 --json "$out/recall.json"
echo "to ship: cp $out/jemma-embed-demo.gguf $root/models/"
