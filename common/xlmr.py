"""fairseq's XLM-R layout: the one definition of it that every module touching a model reads.

A model directory holds MODEL_FILE, DICT_FILE and SPM_FILE (fairseq's xlmr.base, the stand-in,
every model this pipeline writes). fairseq's ids: <s>=0 <pad>=1 </s>=2 <unk>=3, then the
pieces of dict.txt (SentencePiece id k >= 3 is fairseq id k + 1), <mask> last. State-dict
keys are fairseq 0.12's RoBERTa names; fairseq's 2019 release names them `decoder.*`.
"""
MODEL_FILE, DICT_FILE, SPM_FILE = "model.pt", "dict.txt", "sentencepiece.bpe.model"
IDMAP_FILE = "idmap.tsv"   # new fairseq id -> base fairseq id, beside a pruned vocabulary

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
BOS, PAD, EOS, UNK = range(len(SPECIALS))
MASK = "<mask>"
SPM_CONTROLS = ("<unk>", "<s>", "</s>")   # SentencePiece ids 0-2 of sentencepiece.bpe.model
SPM_OFFSET = 1                           # SentencePiece id k >= len(SPM_CONTROLS) is fairseq id k + 1

MODEL_PREFIX = "encoder."               # what the 2019 release calls RELEASE_2019_PREFIX
ENCODER = f"{MODEL_PREFIX}sentence_encoder."   # embeddings and layers
LM_HEAD = f"{MODEL_PREFIX}lm_head."
EMBED = f"{ENCODER}embed_tokens.weight"
POSITIONS = f"{ENCODER}embed_positions.weight"
LM_WEIGHT = f"{LM_HEAD}weight"          # tied to EMBED
LM_BIAS = f"{LM_HEAD}bias"
RELEASE_2019_PREFIX = "decoder."
EMB_NORM, RELEASE_2019_EMB_NORM = "layernorm_embedding", "emb_layer_norm"   # the norm after the embeddings
